import { mkdir } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argvPath, runtimeFacts, sourceFiles } from '../../runtimes.js';
import { javacArchiveDir } from '../paths.js';
import { fileClassName, isClassName, mainClass, requiredFileName } from './java-source.js';
import { firstExecutable, isExecutable, which } from './locate.js';
import { defineHost, type CommandContext, type Toolchain } from './types.js';

const MiB = 1024 * 1024;

/** The build's output: the class files, by package (the run's class path, what the build cache keeps). */
const CLASSES = 'classes';

/**
 * The JVM options of every JVM the runtime starts: serial GC (a handful of threads under the
 * sandbox's pids limit), no perf data file in /tmp, and whatever the VM itself says (warnings) on
 * stderr, never mixed into the program's stdout.
 */
const VM_COMMON = ['-XX:+UseSerialGC', '-XX:-UsePerfData', '-XX:+DisplayVMOutputToStderr', '-Xlog:disable', '-Xlog:all=warning:stderr'];

/** javac's JVM: 1 GiB of heap, deep recursion for deep expressions, C1 only (a short-lived process), two GC/compiler threads. */
export const JAVAC_VM = ['-Xmx1g', '-Xss16m', '-XX:TieredStopAtLevel=1', '-XX:ActiveProcessorCount=2', ...VM_COMMON].map((o) => `-J${o}`);

/** javac's own options: UTF-8 sources, no annotation processors (no code of the request runs while compiling). */
export const JAVAC_OPTIONS = ['-encoding', 'UTF-8', '-proc:none'];

/** The archive's file name in javacArchiveDir(), and the stamp naming the JDK it was made for. */
export const JAVAC_ARCHIVE = 'javac.jsa';
export const JAVAC_ARCHIVE_STAMP = 'stamp';

/**
 * The identity of a JDK as a class-data archive depends on it: where it is, its build (its
 * `release` file), its JVM library, and the options javac's JVM starts with. Null when the JDK
 * does not say (no `release` file).
 */
export function jdkIdentity(tool: Toolchain): string | null {
  try {
    const release = readFileSync(path.join(tool.root, 'release'), 'utf8');
    const build = /^JAVA_RUNTIME_VERSION="?([^"\n]*)"?$/m.exec(release)?.[1] ?? /^JAVA_VERSION="?([^"\n]*)"?$/m.exec(release)?.[1];
    const jvm = statSync(path.join(tool.root, 'lib/server/libjvm.so'));
    return JSON.stringify({ root: tool.root, build, jvm: [jvm.size, Math.round(jvm.mtimeMs)], options: JAVAC_VM });
  } catch {
    return null;
  }
}

/**
 * The class-data archive javac maps at start-up (javac starts in ~2/3 of the time), when one was
 * made for exactly this JDK (host paths), else null. A JVM given an archive it cannot use runs
 * without it, but newer ones say so on stderr: an archive of another JDK is never passed.
 */
export function javacArchive(tool: Toolchain): string | null {
  const dir = javacArchiveDir();
  try {
    const identity = jdkIdentity(tool);
    if (!identity || readFileSync(path.join(dir, JAVAC_ARCHIVE_STAMP), 'utf8') !== identity) return null;
    return statSync(path.join(dir, JAVAC_ARCHIVE)).isFile() ? path.join(dir, JAVAC_ARCHIVE) : null;
  } catch {
    return null;
  }
}

/** javac's JVM options, with the archive when the compile phase has it bound (its compileReadOnlyPaths). */
export function javacVm(readOnlyPaths: readonly string[] = []): string[] {
  const archive = readOnlyPaths.find((p) => path.basename(p) === JAVAC_ARCHIVE && path.dirname(p) === javacArchiveDir());
  return archive ? [...JAVAC_VM, `-J-XX:SharedArchiveFile=${archive}`] : JAVAC_VM;
}

/**
 * The heap for a memory cap the JVM cannot see (it does not see its cgroup): half the cap, or the
 * cap less 64 MiB for the JVM's own memory (code, metaspace, thread stacks), whichever is more. A
 * program that outgrows it gets Java's OutOfMemoryError (exit 1) before the cgroup's kill.
 */
export function heapMiB(memoryBytes: number): number {
  const cap = Math.floor(memoryBytes / MiB);
  return Math.max(8, Math.floor(cap / 2), cap - 64);
}

/** The request's .java files javac compiles: all of them, the entry under the name its public class needs (see scaffold). */
function javaSources(ctx: CommandContext): string[] {
  const src = ctx.sources[ctx.entry] ?? '';
  const renamed = requiredFileName(ctx.entry, src);
  const replaced = renamed !== null && ctx.sources[renamed] === src;
  const sources = sourceFiles(runtimeFacts('java'), ctx.files).filter((f) => !(replaced && f === ctx.entry));
  if (!replaced && !sources.includes(ctx.entry)) sources.unshift(ctx.entry);
  return sources;
}

/**
 * Java: `javac` compiles every .java file of the request into /out/classes (one compile, cached),
 * then `java` runs the entry's class: `Main`, or the entry's public class (`public class Solution`
 * in Main.java is compiled as Solution.java), with a heap sized from the memory cap.
 */
export default defineHost({
  async locate(override) {
    // /usr/bin/java is Debian's alternatives link: the real JDK behind it.
    const bin = firstExecutable([override, '/usr/bin/java', which('java') ?? undefined]);
    if (!bin) return null;
    const root = path.dirname(path.dirname(bin));
    return isExecutable(path.join(root, 'bin/javac')) ? { root, bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '-XX:-UsePerfData', '-version'],
    parse: (out) => /version "([^"]+)"/.exec(out)?.[1] ?? out.trim(),
  },
  // javac wants a public class in a file of its name: the entry's content under that name too
  // (compiled instead of the entry), unless the request has such a file itself.
  scaffold({ entry, files, sources }) {
    const src = sources[entry];
    const renamed = src === undefined || !entry.endsWith('.java') ? null : requiredFileName(entry, src);
    return renamed && !files.includes(renamed) ? { [renamed]: src! } : {};
  },
  // The class directory exists even when the sources declare no class: the run then says so.
  async prepareCompile(host) {
    await mkdir(path.join(host.hostOutDir, CLASSES), { recursive: true });
  },
  // `java` takes the class to run where it takes its options: the class named after an entry whose
  // name is no class name (`--version.java`, declaring no class to run) would be one. (An invalid
  // package name makes javac fail.)
  refuse(ctx) {
    const named = fileClassName(ctx.entry);
    if (isClassName(named) || isClassName(mainClass(ctx.entry, ctx.sources[ctx.entry] ?? ''))) return null;
    return `${ctx.entry} declares no class with a main method, and ${JSON.stringify(named)}, its file's name, is not a Java class name`;
  },
  compileReadOnlyPaths: (tool) => {
    const archive = javacArchive(tool);
    return archive ? [archive] : [];
  },
  compile: (ctx) => ({
    argv: [`${ctx.tool.root}/bin/javac`, ...javacVm(ctx.readOnlyPaths), ...JAVAC_OPTIONS, '-d', `${ctx.outDir}/${CLASSES}`, ...javaSources(ctx).map(argvPath)],
  }),
  compiledBinary: (ctx, stdout) => ({ binary: `${ctx.outDir}/${CLASSES}`, directory: true, stdout }),
  run: (ctx) => ({
    argv: [
      ctx.tool.bin,
      `-Xmx${heapMiB(ctx.memoryBytes)}m`,
      // Deep recursion, as people expect of a judge (only the pages used count against the cap).
      '-Xss64m',
      ...VM_COMMON,
      // Under 64 pids: no thread pool sized for the host's cores (the common pool fails at 64).
      `-XX:ActiveProcessorCount=${Math.min(os.availableParallelism(), 4)}`,
      `-XX:ErrorFile=${ctx.tmpDir}/hs_err_pid%p.log`,
      '-Dfile.encoding=UTF-8',
      '-Dstdout.encoding=UTF-8',
      '-Dstderr.encoding=UTF-8',
      `-Duser.home=${ctx.tmpDir}`,
      '-cp',
      ctx.binary!,
      mainClass(ctx.entry, ctx.sources[ctx.entry] ?? ''),
      ...ctx.args,
    ],
  }),
});
