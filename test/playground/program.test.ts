/** The playground's own logic that needs no browser: share links, arguments, the event-stream reader, the examples. */
import { describe, expect, it } from 'vitest';
import { serverSentEvents } from '../../playground/src/api.js';
import { EXAMPLES, RUNTIMES } from '../../playground/src/catalog.js';
import { fileNameProblem } from '../../playground/src/files.js';
import { decodeProgram, encodeProgram, joinArgs, parseProgram, splitArgs, type Program } from '../../playground/src/program.js';
import { RUNTIMES as REGISTRY } from '../../functions/runtimes.js';

describe('share links', () => {
  it('carry the whole program as base64url JSON, Unicode included', () => {
    const program: Program = {
      runtime: 'python',
      files: { 'main.py': 'print("héllo ✓ 🎉")\n', 'pkg/helper.py': 'x = 1\n' },
      entrypoint: 'main.py',
      stdin: 'Alice\n',
      args: ['a b', "it's"],
      timeout: 500,
    };
    const encoded = encodeProgram(program);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeProgram(encoded)).toEqual(program);
    expect(JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'))).toEqual(program);
  });

  it('leave empty fields out, and survive large programs', () => {
    const program: Program = { runtime: 'node', files: { 'main.js': 'x'.repeat(200_000) }, entrypoint: 'main.js', stdin: '', args: [] };
    const decoded = decodeProgram(encodeProgram(program));
    expect(decoded).toEqual({ runtime: 'node', files: program.files, entrypoint: 'main.js' });
  });

  it('refuse what is not a program', () => {
    expect(() => decodeProgram('not base64 !')).toThrow();
    expect(() => decodeProgram(Buffer.from('[1,2]').toString('base64url'))).toThrow();
    expect(() => parseProgram({ runtime: 'python', files: {} })).toThrow(/no files/);
    expect(() => parseProgram({ runtime: 'python', files: { 'a.py': 1 } })).toThrow(/not text/);
    // An entrypoint that names no file falls back to the first file; odd optional fields are dropped.
    expect(parseProgram({ runtime: 'go', files: { 'a.go': '' }, entrypoint: 'b.go', timeout: -1, args: [1] })).toEqual({
      runtime: 'go',
      files: { 'a.go': '' },
      entrypoint: 'a.go',
    });
  });
});

describe('arguments', () => {
  it('split like a shell', () => {
    expect(splitArgs('')).toEqual([]);
    expect(splitArgs('  one   two ')).toEqual(['one', 'two']);
    expect(splitArgs(`'two words' "say \\"hi\\"" back\\ slash ''`)).toEqual(['two words', 'say "hi"', 'back slash', '']);
    expect(splitArgs(`a'b c'd`)).toEqual(['ab cd']);
  });

  it('join back to what splits to the same words', () => {
    for (const args of [['plain', 'a-b.c/d'], ['two words', "it's", '', '$HOME', 'tab\there']]) {
      expect(splitArgs(joinArgs(args))).toEqual(args);
    }
  });
});

describe('file names', () => {
  it('follow the API path rules', () => {
    expect(fileNameProblem('pkg/helper.py', ['main.py'])).toBeNull();
    expect(fileNameProblem('main.py', ['main.py'])).toMatch(/already/);
    for (const bad of ['', '/abs.py', 'a\\b.py', 'a//b.py', '../up.py', 'a/./b.py']) expect(fileNameProblem(bad, [])).not.toBeNull();
  });
});

describe('serverSentEvents', () => {
  const streamOf = (...chunks: string[]) =>
    new ReadableStream<Uint8Array<ArrayBuffer>>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
  const all = async (stream: ReadableStream<Uint8Array<ArrayBuffer>>) => {
    const events = [];
    for await (const event of serverSentEvents(stream)) events.push(event);
    return events;
  };

  it('reads events cut anywhere, with comments, CRLF and multi-line data', async () => {
    const text = ': ping\r\n\r\nevent: stdout\r\ndata: {"data":"é"}\r\n\r\nevent: result\ndata: a\ndata: b\n\ndata:plain\n\n';
    const expected = [
      { event: 'stdout', data: '{"data":"é"}' },
      { event: 'result', data: 'a\nb' },
      { event: 'message', data: 'plain' },
    ];
    expect(await all(streamOf(text))).toEqual(expected);
    // One byte at a time: a CRLF and a UTF-8 character split across chunks.
    const bytes = new TextEncoder().encode(text);
    const byByte = new ReadableStream<Uint8Array<ArrayBuffer>>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    expect(await all(byByte)).toEqual(expected);
  });

  it('drops an event the stream cut off before its blank line', async () => {
    expect(await all(streamOf('event: stdout\ndata: {"data":"x"}\n\nevent: result\ndata: {}'))).toEqual([{ event: 'stdout', data: '{"data":"x"}' }]);
  });
});

describe('catalog', () => {
  it('has every runtime of the registry, with its entry file', () => {
    expect(RUNTIMES.map((r) => [r.id, r.entrypoint, r.compiled])).toEqual(REGISTRY.map((r) => [r.id, r.entrypoint, r.compiled]));
  });

  it('has the product examples, each a valid program', () => {
    expect(EXAMPLES.map((e) => e.title)).toEqual(['Python sum', 'NumPy', 'Node.js', 'Go', 'Rust', 'Multiple files', 'stdin', 'Timeout', 'Error handling']);
    for (const { program } of EXAMPLES) expect(parseProgram(program)).toEqual(program);
    const go = EXAMPLES.find((e) => e.title === 'Go')!.program;
    expect(go.files['main.go']).toContain('fmt.Printf("Sum: %d\\n", sum)\n}\n');
    expect(go.files['main.go']!.startsWith('package main\n\nimport "fmt"\n')).toBe(true);
  });
});
