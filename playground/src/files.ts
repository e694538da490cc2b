/**
 * The program's files: one editor, one state per file (its own undo history and highlighting),
 * a tab per file (the WAI-ARIA tabs pattern: arrow keys, Home, End) and the entry file picker.
 */
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';
import { languageFor } from './languages.js';

interface FileEntry {
  name: string;
  state: EditorState;
  language: Compartment;
}

/** Why a file name cannot be used (the API's path rules, and no duplicates), or null. */
export function fileNameProblem(name: string, taken: readonly string[]): string | null {
  if (name.trim() === '') return 'A file needs a name.';
  if (name.startsWith('/')) return 'Use a relative path.';
  if (name.includes('\\')) return 'Use / between folders.';
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'Folders cannot be empty, . or ..';
  if (taken.includes(name)) return `There is already a file called ${name}.`;
  return null;
}

export class Workspace {
  private files: FileEntry[] = [];
  private active = 0;
  entrypoint = '';

  constructor(
    private readonly view: EditorView,
    private readonly tablist: HTMLElement,
    private readonly entrySelect: HTMLSelectElement,
    private readonly extensions: Extension,
  ) {
    tablist.addEventListener('keydown', (event) => this.onTabKey(event));
    entrySelect.addEventListener('change', () => {
      this.entrypoint = entrySelect.value;
      this.render();
    });
  }

  /** Replaces every file; the entry file's tab is shown. */
  load(files: Record<string, string>, entrypoint: string): void {
    this.files = Object.entries(files).map(([name, content]) => this.entry(name, content));
    this.entrypoint = Object.hasOwn(files, entrypoint) ? entrypoint : (this.files[0]?.name ?? '');
    this.active = Math.max(0, this.files.findIndex((f) => f.name === this.entrypoint));
    this.view.setState(this.files[this.active]!.state);
    this.render();
  }

  names(): string[] {
    return this.files.map((f) => f.name);
  }

  contents(): Record<string, string> {
    this.save();
    return Object.fromEntries(this.files.map((f) => [f.name, f.state.doc.toString()]));
  }

  get activeName(): string {
    return this.files[this.active]!.name;
  }

  add(name: string, content = ''): void {
    this.save();
    this.files.push(this.entry(name, content));
    this.show(this.files.length - 1);
  }

  rename(from: string, to: string): void {
    this.save();
    const file = this.files.find((f) => f.name === from);
    if (!file) return;
    file.name = to;
    this.highlight(file);
    if (this.entrypoint === from) this.entrypoint = to;
    this.render();
  }

  /** Removes a file (never the last one). */
  remove(name: string): void {
    if (this.files.length < 2) return;
    this.save();
    const index = this.files.findIndex((f) => f.name === name);
    if (index === -1) return;
    this.files.splice(index, 1);
    if (this.entrypoint === name) this.entrypoint = this.files[0]!.name;
    this.active = Math.min(this.active >= index ? Math.max(0, this.active - 1) : this.active, this.files.length - 1);
    this.view.setState(this.files[this.active]!.state);
    this.render();
  }

  /** Shows a file's tab and puts the editor on it. */
  show(index: number, focusTab = false): void {
    this.save();
    this.active = index;
    this.view.setState(this.files[index]!.state);
    this.render();
    if (focusTab) this.tablist.querySelectorAll<HTMLElement>('[role="tab"]')[index]?.focus();
  }

  private entry(name: string, content: string): FileEntry {
    const language = new Compartment();
    const file: FileEntry = { name, language, state: EditorState.create({ doc: content, extensions: [this.extensions, language.of([])] }) };
    this.highlight(file);
    return file;
  }

  /** Sets a file's highlighting from its name (plain text at once, the language when its chunk is in). */
  private highlight(file: FileEntry): void {
    const name = file.name;
    const apply = (extension: Extension) => {
      if (file.name !== name) return;
      const effects = file.language.reconfigure(extension);
      if (this.files[this.active] === file) this.view.dispatch({ effects });
      else file.state = file.state.update({ effects }).state;
    };
    const language = languageFor(name);
    if (!language) return apply([]);
    language.then(apply, () => {
      /* plain text: highlighting is not worth an error */
    });
  }

  /** Keeps what the editor holds in the active file's state. */
  private save(): void {
    const file = this.files[this.active];
    if (file) file.state = this.view.state;
  }

  private render(): void {
    this.tablist.replaceChildren(
      ...this.files.map((file, index) => {
        const tab = document.createElement('button');
        tab.type = 'button';
        tab.setAttribute('role', 'tab');
        tab.id = `file-tab-${index}`;
        tab.setAttribute('aria-controls', 'editor');
        tab.setAttribute('aria-selected', String(index === this.active));
        tab.tabIndex = index === this.active ? 0 : -1;
        tab.textContent = file.name;
        if (file.name === this.entrypoint) {
          const mark = document.createElement('span');
          mark.className = 'entry-mark';
          mark.textContent = ' (entry)';
          tab.append(mark);
        }
        tab.addEventListener('click', () => this.show(index));
        return tab;
      }),
    );
    this.view.dom.parentElement?.setAttribute('aria-labelledby', `file-tab-${this.active}`);
    this.entrySelect.replaceChildren(...this.files.map((f) => new Option(f.name, f.name, false, f.name === this.entrypoint)));
    this.entrySelect.disabled = this.files.length < 2;
  }

  private onTabKey(event: KeyboardEvent): void {
    const last = this.files.length - 1;
    const next = { ArrowRight: this.active + 1, ArrowLeft: this.active - 1, Home: 0, End: last }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    this.show(next > last ? 0 : next < 0 ? last : next, true);
  }
}
