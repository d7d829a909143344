/**
 * The one error for a bad setting, whichever configuration it is in: the service's YAML, a workflow or forward
 * definition, a triage (tuning) file, or a command-line option. Loaders throw it with what they know of where
 * the problem is; the commands print its message (no stack trace) and exit with the usage code.
 */
export interface ConfigLocation {
  /** The file the setting came from (absent for command-line options and in-memory documents). */
  file?: string;
  /** Where in it: a key path (`workflows[0] (soar).url`), an option (`--port`), `top level`. */
  at?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly file: string | undefined;
  readonly at: string | undefined;
  /** The problem itself, without its location. */
  readonly reason: string;

  constructor(reason: string, where: ConfigLocation = {}) {
    super([where.file, where.at, reason].filter((p) => p !== undefined && p !== '').join(': '));
    this.file = where.file;
    this.at = where.at;
    this.reason = reason;
  }

  /** This error located in `file`, for parsers that work on a document and do not know its file name. */
  inFile(file: string): ConfigError {
    if (this.file !== undefined) return this;
    // The key path stays part of the reason here: parsers below this one wrote it into their messages.
    const located = new ConfigError(this.message, { file });
    located.stack = this.stack;
    return located;
  }
}
