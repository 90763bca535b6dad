// Shutting down what a test started, one thing after another in the order given (each waits for the last).

export async function closeInOrder(...closables: { close(): Promise<unknown> | unknown }[]): Promise<void> {
  for (const closable of closables) await closable.close();
}
