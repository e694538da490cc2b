/** The playground page: edit a program, run it through the API, watch its output arrive. */
import { indentWithTab } from '@codemirror/commands';
import { EditorView, keymap } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { ApiError, apiBase, executeLive, listRuntimes, type ApiOptions, type CompileResult, type ExecuteResult } from './api.js';
import { EXAMPLES, RUNTIMES, helloProgram, runtimeEntry, type RuntimeEntry } from './catalog.js';
import { Workspace, fileNameProblem } from './files.js';
import { SHARE_PREFIX, decodeProgram, encodeProgram, joinArgs, parseProgram, requestOf, splitArgs, type Program } from './program.js';

const KEY_STORAGE = 'runtools.apiKey';
const DRAFT_STORAGE = 'runtools.playground.draft';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  runtime: $<HTMLSelectElement>('runtime'),
  entry: $<HTMLSelectElement>('entry'),
  run: $<HTMLButtonElement>('run'),
  shortcut: $<HTMLSpanElement>('run-shortcut'),
  share: $<HTMLButtonElement>('share'),
  shareBox: $<HTMLDivElement>('share-box'),
  shareUrl: $<HTMLInputElement>('share-url'),
  shareNote: $<HTMLSpanElement>('share-note'),
  tabs: $<HTMLDivElement>('tabs'),
  addFile: $<HTMLButtonElement>('add-file'),
  renameFile: $<HTMLButtonElement>('rename-file'),
  deleteFile: $<HTMLButtonElement>('delete-file'),
  editor: $<HTMLDivElement>('editor'),
  stdin: $<HTMLTextAreaElement>('stdin'),
  args: $<HTMLInputElement>('args'),
  timeout: $<HTMLInputElement>('timeout'),
  examples: $<HTMLUListElement>('examples'),
  output: $<HTMLElement>('output'),
  status: $<HTMLParagraphElement>('status'),
  facts: $<HTMLDListElement>('facts'),
  compileBox: $<HTMLDivElement>('compile-box'),
  compileSummary: $<HTMLParagraphElement>('compile-summary'),
  compile: $<HTMLPreElement>('compile'),
  stdout: $<HTMLPreElement>('stdout'),
  stderr: $<HTMLPreElement>('stderr'),
  keyButton: $<HTMLButtonElement>('key-button'),
  keyDialog: $<HTMLDialogElement>('key-dialog'),
  keyReason: $<HTMLParagraphElement>('key-reason'),
  keyInput: $<HTMLInputElement>('key-input'),
  keyCancel: $<HTMLButtonElement>('key-cancel'),
  fileDialog: $<HTMLDialogElement>('file-dialog'),
  fileTitle: $<HTMLHeadingElement>('file-title'),
  fileInput: $<HTMLInputElement>('file-input'),
  fileProblem: $<HTMLParagraphElement>('file-problem'),
  fileCancel: $<HTMLButtonElement>('file-cancel'),
  docs: $<HTMLAnchorElement>('docs-link'),
};

type Runtime = RuntimeEntry & { available: boolean; version: string | null };

const api: ApiOptions = { base: apiBase(), apiKey: stored(KEY_STORAGE) };
let runtimes: Runtime[] = RUNTIMES.map((r) => ({ ...r, available: true, version: null }));
/** The runtime the program was last written for (what a runtime switch starts from). */
let currentRuntime = '';
let running: AbortController | null = null;
let draftTimer: ReturnType<typeof setTimeout> | undefined;

const isMac = /Mac|iPhone|iPad/.test(navigator.platform);
const SHORTCUT = isMac ? '⌘ Enter' : 'Ctrl+Enter';

const view = new EditorView({ parent: ui.editor });
const workspace = new Workspace(view, ui.tabs, ui.entry, [
  basicSetup,
  keymap.of([indentWithTab]),
  EditorView.contentAttributes.of({ 'aria-label': 'Code editor' }),
  EditorView.updateListener.of((update) => {
    if (update.docChanged) programChanged();
  }),
]);

// ---- the program --------------------------------------------------------------------------------

function currentProgram(): Program {
  const program: Program = { runtime: ui.runtime.value, files: workspace.contents(), entrypoint: workspace.entrypoint };
  if (ui.stdin.value) program.stdin = ui.stdin.value;
  const args = splitArgs(ui.args.value);
  if (args.length > 0) program.args = args;
  const timeout = Number(ui.timeout.value);
  if (ui.timeout.value.trim() !== '' && Number.isInteger(timeout) && timeout > 0) program.timeout = timeout;
  return program;
}

function setProgram(program: Program): void {
  if (!runtimes.some((r) => r.id === program.runtime)) {
    runtimes.push({ id: program.runtime, label: program.runtime, entrypoint: program.entrypoint, compiled: false, hello: '', available: true, version: null });
    renderRuntimes();
  }
  ui.runtime.value = currentRuntime = program.runtime;
  workspace.load(program.files, program.entrypoint);
  ui.stdin.value = program.stdin ?? '';
  ui.args.value = joinArgs(program.args ?? []);
  ui.timeout.value = program.timeout === undefined ? '' : String(program.timeout);
  renderFileButtons();
}

/** After any edit: the draft is saved, and a share link in the address bar no longer says what is on the page. */
function programChanged(): void {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(() => store(DRAFT_STORAGE, JSON.stringify(currentProgram())), 300);
  if (location.hash.startsWith(SHARE_PREFIX)) history.replaceState(null, '', location.pathname + location.search);
  ui.shareBox.hidden = true;
}

function programFromLink(): Program | null {
  if (!location.hash.startsWith(SHARE_PREFIX)) return null;
  try {
    return decodeProgram(location.hash.slice(SHARE_PREFIX.length));
  } catch {
    setStatus('This link does not hold a program that can be read (was it cut short?).', 'error');
    return null;
  }
}

function draft(): Program | null {
  try {
    const text = stored(DRAFT_STORAGE);
    return text ? parseProgram(JSON.parse(text)) : null;
  } catch {
    return null;
  }
}

/**
 * A new runtime: an untouched hello world (or an empty program) becomes the new runtime's; a single
 * file takes the new runtime's entry name; several files stay as they are.
 */
function switchRuntime(id: string): void {
  const next = runtimes.find((r) => r.id === id);
  const previous = runtimeEntry(currentRuntime);
  currentRuntime = id;
  if (!next) return;
  const files = workspace.contents();
  const names = Object.keys(files);
  const untouched = names.every((n) => files[n]!.trim() === '') || (names.length === 1 && previous !== undefined && files[names[0]!] === previous.hello);
  if (untouched && next.hello) workspace.load(helloProgram(next).files, next.entrypoint);
  else if (names.length === 1 && names[0] !== next.entrypoint) workspace.rename(names[0]!, next.entrypoint);
  renderFileButtons();
  programChanged();
}

// ---- running ------------------------------------------------------------------------------------

async function run(): Promise<void> {
  if (running) return;
  const controller = new AbortController();
  running = controller;
  const program = currentProgram();
  const compiled = runtimes.find((r) => r.id === program.runtime)?.compiled ?? false;
  setRunning(true);
  clearOutput();
  setStatus(compiled ? 'Compiling…' : 'Running…', 'running');
  // One column (a phone): the output is below the editor, so bring it into view.
  if (matchMedia('(max-width: 900px)').matches) ui.output.scrollIntoView({ block: 'start' });
  try {
    const result = await executeLive(
      api,
      requestOf(program),
      {
        onCompile: (compile) => {
          showCompile(compile);
          if (compile.exitCode === 0 && !compile.timedOut) setStatus('Running…', 'running');
        },
        onStdout: (chunk) => ui.stdout.append(chunk),
        onStderr: (chunk) => ui.stderr.append(chunk),
      },
      controller.signal,
    );
    showResult(result);
  } catch (error) {
    if (controller.signal.aborted) {
      setStatus('Stopped: the execution was cancelled.', 'error');
    } else if (error instanceof ApiError && error.status === 401) {
      finishRun(controller);
      setStatus('Waiting for an API key…', 'info');
      const reason = api.apiKey ? 'The server did not accept this API key. Enter another one.' : 'This server needs an API key to run programs.';
      if (await askKey(reason)) return run();
      setStatus('Not run: this server needs an API key.', 'error');
    } else if (error instanceof ApiError) {
      setStatus(`Not run (${error.status} ${error.code}): ${error.message}`, 'error');
    } else {
      setStatus(`Could not reach the server: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  } finally {
    finishRun(controller);
  }
}

function finishRun(controller: AbortController): void {
  if (running !== controller) return;
  running = null;
  setRunning(false);
}

function setRunning(on: boolean): void {
  ui.run.textContent = on ? 'Stop' : 'Run';
  ui.run.classList.toggle('stop', on);
  ui.output.setAttribute('aria-busy', String(on));
}

function clearOutput(): void {
  ui.stdout.textContent = '';
  ui.stderr.textContent = '';
  ui.facts.replaceChildren();
  ui.compileBox.hidden = true;
}

const ENDINGS: Record<ExecuteResult['status'], string> = {
  ok: 'Finished',
  runtime_error: 'Runtime error',
  timeout: 'Timed out',
  memory_limit: 'Out of memory',
  output_limit: 'Output limit reached',
  compile_error: 'Compile error',
};

function showResult(result: ExecuteResult): void {
  ui.stdout.textContent = result.stdout;
  ui.stderr.textContent = result.stderr;
  if (result.compile) showCompile(result.compile);
  const ending = result.signal && result.status === 'runtime_error' ? `Killed by ${result.signal}` : ENDINGS[result.status];
  setStatus(`${ending}: exit code ${result.exitCode}, ${result.executionTime} ms.`, result.status === 'ok' ? 'ok' : 'error');
  const facts: [string, string][] = [
    ['Status', result.status],
    ['Exit code', String(result.exitCode)],
    ['Time', `${result.executionTime} ms`],
    ['CPU', `${result.cpuTime} ms`],
    ['Memory', bytes(result.memoryPeak)],
  ];
  if (result.signal) facts.push(['Signal', result.signal]);
  if (result.truncated) facts.push(['Output', 'truncated at the cap']);
  facts.push(['Version', `${result.runtime} ${result.version}`]);
  ui.facts.replaceChildren(
    ...facts.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = term;
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

function showCompile(compile: CompileResult): void {
  const how = compile.cached ? 'cached build' : `${compile.executionTime} ms`;
  const outcome = compile.timedOut ? 'Compile timed out' : compile.exitCode === 0 ? 'Compiled' : `Compile failed (exit code ${compile.exitCode})`;
  ui.compileSummary.textContent = `${outcome}, ${how}.`;
  ui.compile.textContent = compile.stdout + compile.stderr;
  ui.compile.hidden = ui.compile.textContent === '';
  ui.compileBox.hidden = false;
}

function setStatus(text: string, kind: 'info' | 'running' | 'ok' | 'error'): void {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

// ---- runtimes, API key --------------------------------------------------------------------------

async function loadRuntimes(): Promise<void> {
  try {
    const list = await listRuntimes(api);
    runtimes = list.map((info) => ({
      ...(runtimeEntry(info.runtime) ?? { id: info.runtime, label: info.runtime, hello: '' }),
      entrypoint: info.entrypoint,
      compiled: info.compiled,
      available: info.available,
      version: info.version,
    }));
    renderRuntimes();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      ui.keyButton.hidden = false;
      setStatus(
        api.apiKey ? 'The server did not accept the saved API key: set another one with “API key”.' : 'This server needs an API key: Run asks for it.',
        'info',
      );
    } else {
      setStatus(`Could not list the runtimes: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }
}

function renderRuntimes(): void {
  const selected = ui.runtime.value || currentRuntime;
  ui.runtime.replaceChildren(
    ...runtimes.map((r) => {
      const option = new Option(`${r.label}${r.version ? ` ${r.version}` : ''}${r.available ? '' : ' (not installed)'}`, r.id);
      option.disabled = !r.available && r.id !== selected;
      return option;
    }),
  );
  ui.runtime.value = selected;
}

/** Shows the key dialog; true when a key was saved. */
function askKey(reason: string): Promise<boolean> {
  ui.keyReason.textContent = reason;
  ui.keyInput.value = api.apiKey ?? '';
  ui.keyDialog.returnValue = '';
  ui.keyDialog.showModal();
  return new Promise((resolve) =>
    ui.keyDialog.addEventListener(
      'close',
      () => {
        if (ui.keyDialog.returnValue !== 'save') return resolve(false);
        api.apiKey = ui.keyInput.value.trim() || null;
        if (api.apiKey) store(KEY_STORAGE, api.apiKey);
        else forget(KEY_STORAGE);
        ui.keyButton.hidden = api.apiKey === null;
        void loadRuntimes();
        resolve(api.apiKey !== null);
      },
      { once: true },
    ),
  );
}

// ---- files --------------------------------------------------------------------------------------

/** Shows the file name dialog (checked against the other files' names); the name, or null when cancelled. */
function askFileName(title: string, initial: string, renaming?: string): Promise<string | null> {
  if (renaming === undefined) delete ui.fileDialog.dataset.renaming;
  else ui.fileDialog.dataset.renaming = renaming;
  ui.fileTitle.textContent = title;
  ui.fileInput.value = initial;
  ui.fileProblem.textContent = '';
  ui.fileDialog.returnValue = '';
  ui.fileDialog.showModal();
  ui.fileInput.select();
  return new Promise((resolve) =>
    ui.fileDialog.addEventListener('close', () => resolve(ui.fileDialog.returnValue === 'save' ? ui.fileInput.value.trim() : null), { once: true }),
  );
}

function renderFileButtons(): void {
  ui.deleteFile.disabled = workspace.names().length < 2;
}

// ---- share --------------------------------------------------------------------------------------

async function share(): Promise<void> {
  const url = new URL(location.href);
  url.hash = SHARE_PREFIX + encodeProgram(currentProgram());
  history.replaceState(null, '', url);
  ui.shareUrl.value = url.href;
  ui.shareBox.hidden = false;
  ui.shareUrl.select();
  try {
    await navigator.clipboard.writeText(url.href);
    ui.shareNote.textContent = 'Copied to the clipboard. The program is in the link itself: nothing is stored.';
  } catch {
    ui.shareNote.textContent = 'Copy the link above. The program is in the link itself: nothing is stored.';
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** localStorage, which a browser may refuse (private modes, storage off): the page works without it. */
function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* not kept */
  }
}
function forget(key: string): void {
  try {
    localStorage.removeItem(key);
  } catch {
    /* nothing kept */
  }
}

// ---- wiring -------------------------------------------------------------------------------------

ui.docs.href = new URL('docs', api.base).href;
ui.shortcut.textContent = SHORTCUT;
ui.run.setAttribute('aria-keyshortcuts', isMac ? 'Meta+Enter' : 'Control+Enter');
ui.keyButton.hidden = api.apiKey === null;

ui.examples.replaceChildren(
  ...EXAMPLES.map((example) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = example.title;
    button.addEventListener('click', () => {
      setProgram(structuredClone(example.program));
      programChanged();
      clearOutput();
      setStatus(`Loaded the example “${example.title}”: press Run (${SHORTCUT}).`, 'info');
    });
    item.append(button);
    return item;
  }),
);

ui.runtime.addEventListener('change', () => switchRuntime(ui.runtime.value));
ui.entry.addEventListener('change', programChanged);
for (const field of [ui.stdin, ui.args, ui.timeout]) field.addEventListener('input', programChanged);
ui.run.addEventListener('click', () => (running ? running.abort() : void run()));
ui.share.addEventListener('click', () => void share());
ui.keyButton.addEventListener('click', () => void askKey('The key is kept in this browser (localStorage) and sent as x-api-key.'));
ui.keyCancel.addEventListener('click', () => ui.keyDialog.close('cancel'));
ui.fileCancel.addEventListener('click', () => ui.fileDialog.close('cancel'));

// Ctrl/Cmd+Enter runs from anywhere on the page (before the editor binds it to a new line).
document.addEventListener(
  'keydown',
  (event) => {
    if (event.key !== 'Enter' || !(isMac ? event.metaKey : event.ctrlKey) || document.querySelector('dialog[open]')) return;
    event.preventDefault();
    event.stopPropagation();
    void run();
  },
  true,
);

ui.fileDialog.querySelector('form')!.addEventListener('submit', (event) => {
  if (event.submitter?.getAttribute('value') !== 'save') return;
  const name = ui.fileInput.value.trim();
  const taken = workspace.names().filter((n) => n !== (ui.fileDialog.dataset.renaming ?? ''));
  const problem = fileNameProblem(name, taken);
  if (problem) {
    event.preventDefault();
    ui.fileProblem.textContent = problem;
    ui.fileInput.focus();
  }
});

ui.addFile.addEventListener('click', async () => {
  const extension = /\.[^./]+$/.exec(workspace.entrypoint)?.[0] ?? '';
  let n = 2;
  while (workspace.names().includes(`file${n}${extension}`)) n++;
  const name = await askFileName('New file', `file${n}${extension}`);
  if (!name) return;
  workspace.add(name);
  renderFileButtons();
  programChanged();
  view.focus();
});

ui.renameFile.addEventListener('click', async () => {
  const from = workspace.activeName;
  const name = await askFileName(`Rename ${from}`, from, from);
  if (!name || name === from) return;
  workspace.rename(from, name);
  programChanged();
});

ui.deleteFile.addEventListener('click', () => {
  const name = workspace.activeName;
  if (workspace.names().length < 2 || !confirm(`Delete ${name}?`)) return;
  workspace.remove(name);
  renderFileButtons();
  programChanged();
});

addEventListener('hashchange', () => {
  const program = programFromLink();
  if (program) setProgram(program);
});

renderRuntimes();
setStatus(`Ready. Run with the button or ${SHORTCUT}.`, 'info');
setProgram(programFromLink() ?? draft() ?? helloProgram(RUNTIMES[0]!));
void loadRuntimes();
