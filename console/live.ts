import type { ServerResponse } from "node:http";

/** What a feed sends: the view as JSON, or a one-line problem. */
type Read = () => Promise<unknown>;

interface Feed {
  read: Read;
  subscribers: Set<ServerResponse>;
  /** The last event sent, so a newcomer gets it at once and an unchanged view is not sent again. */
  last: string | null;
  running: boolean;
}

/**
 * Server-sent events over the console's JSON views. One feed per view path, shared by every page watching it:
 * it reads the view, waits `pollMs` (or twice as long as the read took, if longer), and reads again while
 * anyone watches, sending only when the view changed. Reads never overlap.
 */
export class LiveFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly pollMs: number,
    private readonly describe: (err: unknown) => { status: number; message: string },
  ) {
    // Proxies and browsers drop quiet connections; a comment line keeps them open.
    this.heartbeat = setInterval(() => {
      for (const feed of this.feeds.values())
        for (const res of feed.subscribers) res.write(": keep-alive\n\n");
    }, 15_000);
    this.heartbeat.unref();
  }

  subscribe(key: string, read: Read, res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = { read, subscribers: new Set(), last: null, running: false };
      this.feeds.set(key, feed);
    }
    feed.subscribers.add(res);
    if (feed.last !== null) res.write(feed.last);
    res.on("close", () => {
      feed.subscribers.delete(res);
    });
    if (!feed.running) void this.loop(key, feed);
  }

  private async loop(key: string, feed: Feed): Promise<void> {
    feed.running = true;
    while (!this.closed && feed.subscribers.size > 0) {
      let event: string;
      const started = Date.now();
      try {
        event = `event: view\ndata: ${JSON.stringify(await feed.read())}\n\n`;
      } catch (err) {
        const problem = this.describe(err);
        event = `event: problem\ndata: ${JSON.stringify({ error: problem.message, status: problem.status })}\n\n`;
      }
      if (event !== feed.last) {
        feed.last = event;
        for (const res of feed.subscribers) res.write(event);
      }
      // A view that is slow to read (a live run of thousands of tasks) is read less often, so watching it
      // never keeps the services busy more than a third of the time.
      await new Promise((r) => setTimeout(r, Math.max(this.pollMs, 2 * (Date.now() - started))));
    }
    feed.running = false;
    if (feed.subscribers.size === 0) this.feeds.delete(key);
  }

  /** Ends every stream (the server is stopping). */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const feed of this.feeds.values()) for (const res of feed.subscribers) res.end();
    this.feeds.clear();
  }
}
