import { editedLineText, type LineEdits } from "../../../worker/json-line.ts";
import type { LineSink } from "../../../worker/sink.ts";

/** A LineSink that keeps its lines in memory, to assert on what the loop wrote. */
export class MemoryLineSink implements LineSink {
  readonly lines: string[] = [];
  bytes = 0;
  closed = false;

  line(text: string): void {
    this.lines.push(text);
    this.bytes += Buffer.byteLength(text, "utf8") + 1;
  }

  edited(line: Buffer, edits: LineEdits): void {
    this.line(editedLineText(line, edits));
  }

  pump(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  abort(): void {}
}
