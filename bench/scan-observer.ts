/**
 * A scan-bench child that marks when each login's scan was published: its own Redis subscriber (PSUBSCRIBE to
 * every channel) notes the first message whose channel names a login. The push leg is page socket − this time,
 * i.e. how much later than an independent subscriber the page hears of it (publish → ws process → page).
 *   {cmd:'start', url, pattern, idRe} → {type:'ready'};  {cmd:'report'} → {type:'report', seen:[[id, ms]...]}
 */
import { Redis } from 'ioredis';

const seen = new Map<string, number>();
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
let redis: Redis | undefined;

process.on('message', async (m: { cmd: string; url?: string; pattern?: string; idRe?: string }) => {
  if (m.cmd === 'start') {
    const re = new RegExp(m.idRe!);
    redis = new Redis(m.url!);
    redis.on('pmessageBuffer', (_p: Buffer, channel: Buffer) => {
      const t = nowMs();
      const id = re.exec(channel.toString())?.[1];
      if (id && !seen.has(id)) seen.set(id, t);
    });
    await redis.psubscribe(m.pattern!);
    process.send!({ type: 'ready' });
  } else if (m.cmd === 'report') {
    process.send!({ type: 'report', seen: [...seen] });
  }
});
process.on('disconnect', () => process.exit(0));
