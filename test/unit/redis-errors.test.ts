import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { toAppError } from '../../server/errors.js';

// What ioredis rejects with while a Redis Cluster master is replaced must answer 503 redis_unavailable (the page
// and the phone try again), never 500 internal: the cluster chaos test saw 500s during a kill -9 promotion.
describe('Redis errors that mean "try again"', () => {
  it('maps the errors of a slot whose master is being replaced to redis_unavailable', () => {
    const clusterAllFailed = Object.assign(new Error('Failed to refresh slots cache.'), {
      name: 'ClusterAllFailedError',
    });
    for (const err of [
      new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
      new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'),
      clusterAllFailed,
      new ReplyError('CLUSTERDOWN The cluster is down'),
      new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot'),
    ]) {
      expect(toAppError(err).code, err.message).toBe('redis_unavailable');
    }
  });

  it('maps the other replies that mean not now to redis_unavailable: writes refused, data loading, a demoted master', () => {
    for (const err of [
      new ReplyError('NOREPLICAS Not enough good replicas to write.'),
      new ReplyError('LOADING Redis is loading the dataset in memory'),
      new ReplyError("READONLY You can't write against a read only replica."),
      new ReplyError('MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.'),
      new ReplyError('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.'),
    ]) {
      expect(toAppError(err).code, err.message).toBe('redis_unavailable');
    }
  });

  it('leaves other Redis replies alone', () => {
    expect(toAppError(new ReplyError('BUSYKEY Target key name already exists.')).code).toBe('internal');
    expect(toAppError(new ReplyError('ERR unknown command')).code).toBe('internal');
    expect(toAppError(new ReplyError('CROSSSLOT Keys in request do not hash to the same slot')).code).toBe('internal');
  });
});
