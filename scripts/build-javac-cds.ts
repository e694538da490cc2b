/**
 * Makes the class-data archive javac starts from (CDS: the classes javac loads, already parsed
 * and laid out, mapped at start-up: a compile starts in about 2/3 of the time). Compiles a typical
 * program once with exactly the JVM options executions use, archiving what it loaded at exit,
 * then publishes the archive read-only with the stamp of the JDK it belongs to. Idempotent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { javacArchiveDir } from '../functions/runner/paths.js';
import { findToolchain, getRuntime } from '../functions/runner/runtimes/index.js';
import { JAVAC_ARCHIVE, JAVAC_ARCHIVE_STAMP, JAVAC_OPTIONS, JAVAC_VM, jdkIdentity } from '../functions/runner/runtimes/java.js';
import { publishDir } from './publish.js';

/** What the archive holds is what this compile loaded: generics, lambdas, records, switch expressions, nested and anonymous classes, a warning. */
const PROGRAM: Record<string, string> = {
  'Main.java': `import java.io.*;
import java.util.*;
import java.util.function.*;
import java.util.stream.*;
import shapes.Shape;

public class Main {
    record Pair<A, B>(A first, B second) {}

    enum Op { ADD, MUL }

    interface Visitor<R> { R visit(Node n); }

    static final class Node {
        final int value;
        final List<Node> children = new ArrayList<>();
        Node(int value) { this.value = value; }
    }

    static long apply(Op op, long a, long b) {
        return switch (op) {
            case ADD -> a + b;
            case MUL -> a * b;
        };
    }

    @SuppressWarnings("unchecked")
    static <T extends Comparable<T>> T max(Collection<? extends T> xs) {
        Object[] raw = xs.toArray();
        T best = (T) raw[0];
        for (Object o : raw) if (((T) o).compareTo(best) > 0) best = (T) o;
        return best;
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder sb = new StringBuilder();
        Map<String, Integer> counts = new TreeMap<>();
        String line;
        while ((line = in.readLine()) != null) {
            for (String w : line.trim().split("\\\\s+")) counts.merge(w, 1, Integer::sum);
        }
        List<Pair<String, Integer>> pairs = counts.entrySet().stream()
            .map(e -> new Pair<>(e.getKey(), e.getValue()))
            .sorted(Comparator.comparing((Pair<String, Integer> p) -> p.second()).reversed().thenComparing(Pair::first))
            .collect(Collectors.toList());
        int[] dp = new int[100];
        Arrays.fill(dp, Integer.MAX_VALUE);
        PriorityQueue<long[]> pq = new PriorityQueue<>((x, y) -> Long.compare(x[0], y[0]));
        Deque<Integer> stack = new ArrayDeque<>();
        BiFunction<Integer, Integer, Integer> gcd = new BiFunction<>() {
            @Override
            public Integer apply(Integer a, Integer b) { return b == 0 ? a : this.apply(b, a % b); }
        };
        Visitor<Integer> sum = new Visitor<>() {
            @Override
            public Integer visit(Node n) { return n.value + n.children.stream().mapToInt(this::visit).sum(); }
        };
        var text = """
            warm %d %s
            """.formatted(apply(Op.MUL, 6, 7), Shape.unit().area());
        sb.append(text).append(max(List.of(3, 1, 2))).append(pairs.size()).append(gcd.apply(12, 18)).append(sum.visit(new Node(1)));
        pq.add(new long[] {1, 2});
        stack.push(dp.length);
        Optional<String> first = pairs.stream().map(Pair::first).findFirst();
        System.out.println(sb + first.orElse("") + pq.size() + stack.peek() + IntStream.rangeClosed(1, 10).boxed().collect(Collectors.toSet()));
    }
}
`,
  'shapes/Shape.java': `package shapes;

public sealed interface Shape permits Shape.Square {
    double area();

    static Shape unit() { return new Square(1); }

    record Square(double side) implements Shape {
        public double area() { return side * side; }
    }
}
`,
};

const tool = await findToolchain(getRuntime('java'));
if (!tool) {
  console.error('build-javac-cds: no JDK is installed; skipping');
  process.exit(0);
}
const identity = jdkIdentity(tool);
if (!identity) {
  console.error(`build-javac-cds: ${tool.root} has no release file; skipping`);
  process.exit(0);
}
const dir = javacArchiveDir();
const stampFile = path.join(dir, JAVAC_ARCHIVE_STAMP);
if (existsSync(path.join(dir, JAVAC_ARCHIVE)) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === identity) process.exit(0);

console.error(`build-javac-cds: archiving javac's classes into ${dir} (a few seconds, once)`);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'runtools-javac-cds-'));
try {
  for (const [name, content] of Object.entries(PROGRAM)) {
    mkdirSync(path.dirname(path.join(scratch, name)), { recursive: true });
    writeFileSync(path.join(scratch, name), content);
  }
  publishDir(dir, (staging) => {
    const archive = path.join(staging, JAVAC_ARCHIVE);
    execFileSync(
      path.join(tool.root, 'bin/javac'),
      [...JAVAC_VM, `-J-XX:ArchiveClassesAtExit=${archive}`, ...JAVAC_OPTIONS, '-d', path.join(scratch, 'out'), ...Object.keys(PROGRAM)],
      { cwd: scratch, env: { PATH: '/usr/bin:/bin', HOME: scratch, LANG: 'C.UTF-8' }, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (!existsSync(archive)) throw new Error(`javac left no archive at ${archive}`);
    writeFileSync(path.join(staging, JAVAC_ARCHIVE_STAMP), identity);
  });
  console.error('build-javac-cds: done');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
