import { RUNTIMES as REGISTRY, type RuntimeId } from '../../functions/runtimes.js';
import type { Program } from './program.js';

/** What the playground knows of a runtime before (or without) GET /v1/runtimes. */
export interface RuntimeEntry {
  id: string;
  label: string;
  entrypoint: string;
  compiled: boolean;
  /** Prints `Hello, World!`. */
  hello: string;
}

const TS_HELLO = 'const greeting: string = "Hello, World!";\nconsole.log(greeting);\n';

/** The playground's greeting in each runtime (the registry's own sample prints `hello`). */
const HELLO: Record<RuntimeId, string> = {
  python: 'print("Hello, World!")\n',
  node: 'console.log("Hello, World!");\n',
  bun: TS_HELLO,
  deno: TS_HELLO,
  go: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, World!")\n}\n',
  rust: 'fn main() {\n    println!("Hello, World!");\n}\n',
  c: '#include <stdio.h>\n\nint main(void) {\n    puts("Hello, World!");\n    return 0;\n}\n',
  cpp: '#include <iostream>\n\nint main() {\n    std::cout << "Hello, World!" << std::endl;\n}\n',
  java: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println("Hello, World!");\n    }\n}\n',
  ruby: 'puts "Hello, World!"\n',
  php: '<?php\necho "Hello, World!\\n";\n',
  bash: 'echo "Hello, World!"\n',
};

/** The runtimes of the registry, in the order users see them; the server's list wins where it answers. */
export const RUNTIMES: readonly RuntimeEntry[] = REGISTRY.map((r) => ({ id: r.id, label: r.name, entrypoint: r.entrypoint, compiled: r.compiled, hello: HELLO[r.id] }));

export function runtimeEntry(id: string): RuntimeEntry | undefined {
  return RUNTIMES.find((r) => r.id === id);
}

/** The hello-world program of a runtime. */
export function helloProgram(runtime: RuntimeEntry): Program {
  return { runtime: runtime.id, files: { [runtime.entrypoint]: runtime.hello }, entrypoint: runtime.entrypoint };
}

export interface Example {
  title: string;
  program: Program;
}

/** Code as written in the product's examples: indented template literals, the first line empty. */
function code(text: string): string {
  const lines = text.replace(/^\n/, '').replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n') + '\n';
}

const one = (runtime: string, entrypoint: string, source: string, extra: Partial<Program> = {}): Program => ({
  runtime,
  files: { [entrypoint]: source },
  entrypoint,
  ...extra,
});

/** The product's examples (docs/api-cli.md has them as curl commands). */
export const EXAMPLES: readonly Example[] = [
  { title: 'Python sum', program: one('python', 'main.py', 'print(sum([1, 2, 3, 4, 5]))\n') },
  {
    title: 'NumPy',
    program: one(
      'python',
      'main.py',
      code(`
        import numpy as np

        arr = np.array([1, 2, 3, 4, 5])
        print(f"Sum: {arr.sum()}")
        print(f"Mean: {arr.mean()}")
        print(f"Std: {arr.std():.2f}")
      `),
    ),
  },
  {
    title: 'Node.js',
    program: one(
      'node',
      'main.js',
      code(`
        const numbers = Array.from({ length: 10 }, (_, i) => i * i);
        console.log('Squares:', numbers);
        console.log('Sum:', numbers.reduce((a, b) => a + b, 0));
      `),
    ),
  },
  {
    title: 'Go',
    program: one(
      'go',
      'main.go',
      code(`
        package main

        import "fmt"

        func main() {
            sum := 0
            for i := 1; i <= 5; i++ {
                sum += i
            }
            fmt.Printf("Sum: %d\\n", sum)
        }
      `),
    ),
  },
  {
    title: 'Rust',
    program: one(
      'rust',
      'main.rs',
      code(`
        fn main() {
            let numbers: Vec<i32> = (1..=5).collect();
            let sum: i32 = numbers.iter().sum();
            println!("Numbers: {:?}", numbers);
            println!("Sum: {}", sum);
        }
      `),
    ),
  },
  {
    title: 'Multiple files',
    program: {
      runtime: 'python',
      files: {
        'main.py': 'import helper\nprint(helper.greet("World"))\n',
        'helper.py': 'def greet(name):\n    return f"Hello, {name}!"\n',
      },
      entrypoint: 'main.py',
    },
  },
  {
    title: 'stdin',
    program: one('python', 'main.py', 'name = input("What\'s your name? ")\nprint(f"Hello, {name}!")\n', { stdin: 'Alice\n' }),
  },
  { title: 'Timeout', program: one('python', 'main.py', 'import time; time.sleep(60)\n', { timeout: 5000 }) },
  { title: 'Error handling', program: one('python', 'main.py', 'raise ValueError("Something went wrong")\n') },
];
