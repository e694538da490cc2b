/**
 * The SDK's plain types (sdk/types.ts, what the published package declares) against the contract's
 * zod schemas (functions/contract.ts, what the server validates). Checked by `tsc --noEmit -p .`:
 * each pair must be the same type (requests: the schema's input, what a client may send; results:
 * its output, what the server answers), so a field added, dropped or changed on one side only fails
 * the type-check. The runtime assertions below catch the few facts types cannot carry.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  type CompareSchema,
  ERROR_CODES,
  ExecuteRequestSchema,
  RUNTIME_IDS,
  VERDICTS,
  type CompileResultSchema,
  type ErrorBodySchema,
  type ExecuteResultSchema,
  type ExecutionSchema,
  type ExecutionStatusSchema,
  type OutputFileSchema,
  type RuntimeInfoSchema,
  type RuntimesResponseSchema,
  type SuiteSummarySchema,
  type TestResultSchema,
} from '../../functions/contract.js';
import { RUNTIMES } from '../../functions/runtimes.js';
import type * as sdk from '../../sdk/types.js';

/** A request as a client may send it: the schema's input. */
type In<S extends z.ZodType> = z.input<S>;
/** A result as the server answers it: the schema's output. */
type Out<S extends z.ZodType> = z.infer<S>;

/** true when A and B are assignable both ways (a string-like `RuntimeName` and the schema's `string`). */
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Replaces `runtime` (a name: the SDK's `RuntimeId | (string & {})`, the schema's `string`) by `string`, to compare the rest exactly. */
type NamedBy<T> = T extends { runtime: unknown } ? Omit<T, 'runtime'> & { runtime: string } : T;
type ExactCompare<C> = C extends object ? { [K in keyof NamedBy<C>]: NamedBy<C>[K] } : C;
type RequestShape<R extends { tests?: unknown; compare?: unknown }> = Omit<R, 'runtime' | 'compare'> & {
  compare?: ExactCompare<NonNullable<R['compare']>>;
};

describe('sdk/types.ts is the contract, without zod', () => {
  it('requests: what a client may send', () => {
    expectTypeOf<Mutual<sdk.ExecuteRequest, In<typeof ExecuteRequestSchema>>>().toEqualTypeOf<true>();
    expectTypeOf<Mutual<sdk.RuntimeName, In<typeof ExecuteRequestSchema>['runtime']>>().toEqualTypeOf<true>();
    expectTypeOf<RequestShape<sdk.ExecuteRequest>>().toEqualTypeOf<RequestShape<In<typeof ExecuteRequestSchema>>>();
    expectTypeOf<sdk.TestCase>().toEqualTypeOf<NonNullable<In<typeof ExecuteRequestSchema>['tests']>[number]>();
    expectTypeOf<Mutual<sdk.Compare, In<typeof CompareSchema>>>().toEqualTypeOf<true>();
    expectTypeOf<ExactCompare<sdk.Compare>>().toEqualTypeOf<ExactCompare<In<typeof CompareSchema>>>();
  });

  it('results: what the server answers', () => {
    expectTypeOf<sdk.ExecuteResult>().toEqualTypeOf<Out<typeof ExecuteResultSchema>>();
    expectTypeOf<sdk.CompileResult>().toEqualTypeOf<Out<typeof CompileResultSchema>>();
    expectTypeOf<sdk.TestResult>().toEqualTypeOf<Out<typeof TestResultSchema>>();
    expectTypeOf<sdk.SuiteSummary>().toEqualTypeOf<Out<typeof SuiteSummarySchema>>();
    expectTypeOf<sdk.OutputFile>().toEqualTypeOf<Out<typeof OutputFileSchema>>();
    expectTypeOf<sdk.Execution>().toEqualTypeOf<Out<typeof ExecutionSchema>>();
    expectTypeOf<sdk.ExecutionStatus>().toEqualTypeOf<Out<typeof ExecutionStatusSchema>>();
    expectTypeOf<sdk.RuntimeInfo>().toEqualTypeOf<Out<typeof RuntimeInfoSchema>>();
    expectTypeOf<sdk.RuntimesResponse>().toEqualTypeOf<Out<typeof RuntimesResponseSchema>>();
    expectTypeOf<sdk.ErrorBody>().toEqualTypeOf<Out<typeof ErrorBodySchema>>();
    expectTypeOf<sdk.Verdict>().toEqualTypeOf<(typeof VERDICTS)[number]>();
    expectTypeOf<sdk.ErrorCode>().toEqualTypeOf<(typeof ERROR_CODES)[number]>();
    expectTypeOf<sdk.RuntimeId>().toEqualTypeOf<(typeof RUNTIME_IDS)[number]>();
    expectTypeOf<sdk.RunStatus>().toEqualTypeOf<Out<typeof ExecuteResultSchema>['status']>();
    expectTypeOf<sdk.PhaseStatus>().toEqualTypeOf<Out<typeof CompileResultSchema>['status']>();
  });

  it('a request typed with the SDK passes the schema, and every runtime name it documents is accepted', () => {
    const request = {
      runtime: 'py',
      code: 'print(input())',
      tests: [{ name: 'one', stdin: '1', expectedOutput: '1' }],
      compare: { mode: 'float', absTol: 1e-9 },
      stopOnFailure: true,
    } satisfies sdk.ExecuteRequest;
    expect(ExecuteRequestSchema.safeParse(request).success).toBe(true);
    // RuntimeName's comment lists the aliases (a type cannot: any string is a name to the schema).
    const source = readFileSync(path.resolve(import.meta.dirname, '../../sdk/types.ts'), 'utf8');
    const comment = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export type RuntimeName\b/.exec(source)![1]!;
    const aliases = RUNTIMES.flatMap((r) => [...r.aliases]);
    expect([...comment.matchAll(/`([^`]+)`/g)].map((m) => m[1])).toEqual(aliases);
    for (const runtime of [...RUNTIME_IDS, ...aliases]) expect(ExecuteRequestSchema.safeParse({ runtime, code: '' }).success, runtime).toBe(true);
  });
});
