// The logger stages take: pino's call shape (object, message), so a pino logger can be passed as it is.

export interface StageLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: StageLogger = { info() {}, warn() {}, error() {} };
