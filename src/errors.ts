/**
 * Typed errors. Every error a user can cause names its culprit (a file, a tensor, an option)
 * in its message, so the CLI can print one line and the server can answer 400 instead of 500.
 */
export type ParadecErrorCode =
  | 'checkpoint' // missing/truncated/lying files, bad tensors
  | 'config' // unknown model_type, inconsistent config.json
  | 'option' // bad strategy option, bad generation option
  | 'input' // prompt too long, bad request content
  | 'runtime'; // ONNX Runtime failures

export class ParadecError extends Error {
  readonly code: ParadecErrorCode;
  constructor(code: ParadecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParadecError';
    this.code = code;
  }
}

export class CheckpointError extends ParadecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('checkpoint', message, options);
    this.name = 'CheckpointError';
  }
}

export class ConfigError extends ParadecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config', message, options);
    this.name = 'ConfigError';
  }
}

export class OptionError extends ParadecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('option', message, options);
    this.name = 'OptionError';
  }
}

export class InputError extends ParadecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('input', message, options);
    this.name = 'InputError';
  }
}

export class RuntimeFailure extends ParadecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('runtime', message, options);
    this.name = 'RuntimeFailure';
  }
}
