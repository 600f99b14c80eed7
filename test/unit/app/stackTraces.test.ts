/**
 * infra/stackTraces.ts: which stacks keep the source-mapped formatting (errors with a message, the SDK's resource
 * stacks) and which are written as V8 writes them (the SDK's promise bookkeeping).
 */
import { PrepareStackTrace, sdkStackFormatting } from '../../../infra/stackTraces';

function frame(file: string, line: number): NodeJS.CallSite {
  return {
    getFileName: () => file,
    toString: () => `fn (${file}:${line}:1)`,
  } as unknown as NodeJS.CallSite;
}

const FRAMES = [
  frame('/repo/node_modules/@pulumi/pulumi/resource.js', 10),
  frame('/repo/node_modules/@pulumi/kubernetes/apps/v1/deployment.js', 20),
  frame('/repo/components/BlueGreenApp.ts', 30),
  frame('/repo/infra/index.ts', 40),
  frame('node:internal/process/task_queues', 50),
];

/** A stand-in for source-map-support's formatter: marks each frame it was given. */
const calls: number[] = [];
const mapped: PrepareStackTrace = (error, frames) => {
  calls.push(frames.length);
  return `${error.message ? `${error.name}: ${error.message}` : error.name}${frames
    .map((f) => `\n    at MAPPED ${(f as unknown as { toString(): string }).toString()}`)
    .join('')}`;
};

function format(f: PrepareStackTrace, error: Error, limit: number): string {
  const before = Error.stackTraceLimit;
  Error.stackTraceLimit = limit;
  try {
    return String(f(error, FRAMES));
  } finally {
    Error.stackTraceLimit = before;
  }
}

beforeEach(() => {
  calls.length = 0;
});

test('an error with a message keeps every frame mapped', () => {
  const f = sdkStackFormatting(mapped, {}) as PrepareStackTrace;
  const text = format(f, new Error('boom'), 10);
  expect(text.split('\n')[0]).toBe('Error: boom');
  expect(text.match(/MAPPED/g)).toHaveLength(FRAMES.length);
});

test("the SDK's resource stacks (frame limit lifted) keep every frame mapped: the state records them", () => {
  const f = sdkStackFormatting(mapped, {}) as PrepareStackTrace;
  const text = format(f, new Error(), Number.POSITIVE_INFINITY);
  expect(text.split('\n')[0]).toBe('Error');
  expect(text.match(/MAPPED/g)).toHaveLength(FRAMES.length);
});

test('other stacks without a message (promise bookkeeping) are not mapped at all', () => {
  const f = sdkStackFormatting(mapped, {}) as PrepareStackTrace;
  const text = format(f, new Error(), 10);
  expect(text).not.toContain('MAPPED');
  expect(text.split('\n')).toHaveLength(FRAMES.length + 1);
  expect(calls).toEqual([]);
});

test('PAVEMASTER_MAP_ALL_STACK_FRAMES=1, or nothing installed, leaves the formatting alone', () => {
  expect(sdkStackFormatting(mapped, { PAVEMASTER_MAP_ALL_STACK_FRAMES: '1' })).toBeUndefined();
  expect(sdkStackFormatting(undefined, {})).toBeUndefined();
});

test('the program installs it: a message-less stack of the SDK is formatted by it', async () => {
  const installed = Error.prepareStackTrace;
  jest.resetModules();
  try {
    await import('../../../infra/stackTraces');
    expect(Error.prepareStackTrace).not.toBe(installed);
  } finally {
    Error.prepareStackTrace = installed;
  }
});
