/**
 * Syntax highlighting by file name. Each language is its own chunk, fetched the first time a file
 * needs it, so the page loads only the editor and the languages in use.
 */
import { StreamLanguage, type LanguageSupport } from '@codemirror/language';
import type { Extension } from '@codemirror/state';

type Loader = () => Promise<LanguageSupport | StreamLanguage<unknown>>;

const LANGUAGES: readonly [RegExp, Loader][] = [
  [/\.py$/, async () => (await import('@codemirror/lang-python')).python()],
  [/\.(js|mjs|cjs)$/, async () => (await import('@codemirror/lang-javascript')).javascript()],
  [/\.jsx$/, async () => (await import('@codemirror/lang-javascript')).javascript({ jsx: true })],
  [/\.(ts|mts|cts)$/, async () => (await import('@codemirror/lang-javascript')).javascript({ typescript: true })],
  [/\.tsx$/, async () => (await import('@codemirror/lang-javascript')).javascript({ typescript: true, jsx: true })],
  [/\.go$/, async () => (await import('@codemirror/lang-go')).go()],
  [/\.rs$/, async () => (await import('@codemirror/lang-rust')).rust()],
  [/\.(c|h|cc|cpp|cxx|hh|hpp|hxx)$/, async () => (await import('@codemirror/lang-cpp')).cpp()],
  [/\.java$/, async () => (await import('@codemirror/lang-java')).java()],
  [/\.php$/, async () => (await import('@codemirror/lang-php')).php()],
  [/\.rb$/, async () => StreamLanguage.define((await import('@codemirror/legacy-modes/mode/ruby')).ruby)],
  [/\.(sh|bash)$/, async () => StreamLanguage.define((await import('@codemirror/legacy-modes/mode/shell')).shell)],
  [/\.toml$/, async () => StreamLanguage.define((await import('@codemirror/legacy-modes/mode/toml')).toml)],
];

const loaded = new Map<Loader, Promise<Extension>>();

/** The highlighting for a file, or null for a name no language claims (plain text). */
export function languageFor(fileName: string): Promise<Extension> | null {
  const loader = LANGUAGES.find(([pattern]) => pattern.test(fileName.toLowerCase()))?.[1];
  if (!loader) return null;
  let language = loaded.get(loader);
  if (!language) {
    language = loader();
    // A chunk that failed to load (the server went away) is tried again next time.
    language.catch(() => loaded.delete(loader));
    loaded.set(loader, language);
  }
  return language;
}
