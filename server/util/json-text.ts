/**
 * Parses a configuration file's JSON. The error names the file and the position only, never the parser's own
 * message: V8 quotes the text around the mistake, and a config file's text holds passwords (a mistyped one
 * reached the health output that way).
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new Error(`${file}: not valid JSON${at ? ` (at position ${at})` : ''}`);
  }
}
