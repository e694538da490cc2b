/** Types of bin/cli-bundle.mjs (the CLI's build; plain JavaScript so the bin can load it before TypeScript). */
export declare const ROOT: string;
export declare function bundlePath(root?: string): string;
export interface CliBundleManifest {
  /** ms since the epoch, taken before the build read anything. */
  builtAt: number;
  node: string;
  /** Source path (relative to the root) → [mtimeMs, size] when it was built. */
  inputs: Record<string, [number, number]>;
}
export declare function readManifest(root?: string): CliBundleManifest | null;
export declare function currentBundle(root?: string): string | null;
export declare function buildCliBundle(root?: string): Promise<{ entry: string; files: string[]; ms: number }>;
