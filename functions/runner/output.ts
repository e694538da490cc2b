/** Collects one output stream up to a byte cap; never buffers past it. */
export class OutputCollector {
  private readonly chunks: Buffer[] = [];
  /** Bytes kept. */
  size = 0;
  /** True once the stream produced more than the cap. */
  overflowed = false;

  constructor(private readonly cap: number) {}

  /** Stores what fits under the cap; returns false once the cap is exceeded. */
  push(chunk: Buffer): boolean {
    if (this.overflowed) return false;
    const room = this.cap - this.size;
    if (chunk.length > room) {
      if (room > 0) this.chunks.push(chunk.subarray(0, room));
      this.size = this.cap;
      this.overflowed = true;
      return false;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  /** The collected text: cut on a UTF-8 boundary when truncated; invalid bytes become U+FFFD. */
  text(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    if (this.overflowed) buf = buf.subarray(0, utf8Boundary(buf));
    return new TextDecoder('utf-8', { fatal: false }).decode(buf);
  }
}

/** Length of `buf` without a trailing incomplete UTF-8 sequence. */
export function utf8Boundary(buf: Buffer): number {
  const end = buf.length;
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  let i = end - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 4 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < 0) return end;
  const lead = buf[i]!;
  const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return needed > continuation + 1 ? i : end;
}
