/** Reads Server-Sent Events from a fetch response, as the dashboard does. */
export interface StreamEvent {
  readonly event: string;
  readonly data: unknown;
}

export class EventStreamReader {
  readonly events: StreamEvent[] = [];
  readonly done: Promise<void>;
  readonly #abort: AbortController;

  private constructor(readonly response: Response, abort: AbortController) {
    this.#abort = abort;
    this.done = this.#read();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
    const abort = new AbortController();
    return new EventStreamReader(await fetch(url, { headers, signal: abort.signal }), abort);
  }

  async #read(): Promise<void> {
    if (!this.response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of this.response.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) this.events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // Cancelled by close(), or the server went away: `done` resolves either way.
    }
  }

  last<T>(event: string): T | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.event === event) return this.events[i]!.data as T;
    return undefined;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.done;
  }
}
