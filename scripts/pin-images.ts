/**
 * Pins the base images of the runtime images (runtime-layers/<runtime>/Dockerfile) to the digest
 * their tag points at now, keeping the tag beside it as the version a reader sees:
 *   FROM --platform=linux/amd64 node:22.21.1-bookworm-slim@sha256:<digest> AS node
 * The tag says what it is, the digest makes every build pull exactly that. Run it with network
 * access and `crane` or `docker buildx` installed, review the diff, commit:
 *   npx tsx scripts/pin-images.ts           rewrite every FROM with its tag's current digest
 *   npx tsx scripts/pin-images.ts --check   change nothing; exit 1 when a FROM is unpinned or stale
 * The digest pinned is the tag's own (a multi-platform index for the official images); the
 * build's platform (--platform=linux/amd64) picks the image inside it, and the look-up refuses a
 * tag that has no linux/amd64 image.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LAYERS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../runtime-layers');

/** A digest as registries give it. */
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** An image reference split into what a pin keeps (name, tag) and what it changes (digest). */
export interface ImageRef {
  name: string;
  tag: string | null;
  digest: string | null;
}

/** One `FROM` of a Dockerfile that names an image (not an earlier stage, not `scratch`). */
export interface FromImage {
  /** 0-based line index in the file. */
  line: number;
  platform: string | null;
  ref: ImageRef;
}

/** What the registry says a tag points at. `platforms` lists an index's images (os/arch), empty for a single image. */
export interface TagDigest {
  digest: string;
  platforms: string[];
}

/** Resolves `name:tag` to its current digest. */
export type DigestLookup = (image: string) => Promise<TagDigest>;

/** A FROM line whose digest changed (or was added). */
export interface PinChange {
  line: number;
  image: string;
  from: string | null;
  to: string;
}

const FROM_LINE = /^(\s*FROM\s+)((?:--\S+\s+)*)(\S+)(.*)$/i;

/** Splits `registry/name:tag@sha256:…` into its parts; the tag is what follows the last `:` after the last `/`. */
export function parseImageRef(text: string): ImageRef {
  const at = text.indexOf('@');
  const digest = at === -1 ? null : text.slice(at + 1);
  const named = at === -1 ? text : text.slice(0, at);
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  return { name: hasTag ? named.slice(0, colon) : named, tag: hasTag ? named.slice(colon + 1) : null, digest };
}

/** Formats a reference back to `name:tag@digest`. */
export function formatImageRef(ref: ImageRef): string {
  return `${ref.name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The FROM lines of a Dockerfile that name images, in order; FROMs of earlier stages and `scratch` are left out. */
export function fromImages(dockerfile: string): FromImage[] {
  const stages = new Set<string>(['scratch']);
  const found: FromImage[] = [];
  dockerfile.split('\n').forEach((text, line) => {
    const m = FROM_LINE.exec(text);
    if (!m) return;
    const flags = m[2]!;
    const image = m[3]!;
    const alias = /^\s+AS\s+(\S+)/i.exec(m[4]!)?.[1];
    if (!stages.has(image.toLowerCase())) {
      if (image.includes('$')) throw new Error(`line ${line + 1}: FROM ${image} uses a variable; only literal references can be pinned`);
      const platform = /--platform=(\S+)/.exec(flags)?.[1] ?? null;
      found.push({ line, platform, ref: parseImageRef(image) });
    }
    if (alias) stages.add(alias.toLowerCase());
  });
  return found;
}

/**
 * Rewrites every image FROM of `dockerfile` to `name:tag@<digest the lookup gives>`, leaving the
 * rest of each line (its --platform, its stage name) and every other line as they were. A FROM
 * without a tag is refused: the tag is the version a reader sees, the digest only proves it.
 */
export async function pinDockerfile(dockerfile: string, lookup: DigestLookup): Promise<{ text: string; changes: PinChange[] }> {
  const lines = dockerfile.split('\n');
  const changes: PinChange[] = [];
  for (const from of fromImages(dockerfile)) {
    const { name, tag, digest: old } = from.ref;
    if (!tag) throw new Error(`line ${from.line + 1}: ${formatImageRef(from.ref)} has no tag to pin`);
    const image = `${name}:${tag}`;
    const found = await lookup(image);
    if (!DIGEST.test(found.digest)) throw new Error(`${image}: the registry answered ${JSON.stringify(found.digest)}, not a sha256 digest`);
    if (from.platform && found.platforms.length > 0 && !found.platforms.includes(from.platform)) {
      throw new Error(`${image} has no ${from.platform} image (it has ${found.platforms.join(', ')})`);
    }
    if (found.digest === old) continue;
    const m = FROM_LINE.exec(lines[from.line]!)!;
    lines[from.line] = `${m[1]}${m[2]}${formatImageRef({ name, tag, digest: found.digest })}${m[4]}`;
    changes.push({ line: from.line, image, from: old, to: found.digest });
  }
  return { text: lines.join('\n'), changes };
}

/** Reads `docker buildx imagetools inspect <image>`'s text: the tag's digest, then one `Platform:` per image of an index. */
export function parseImagetoolsInspect(output: string): TagDigest {
  const digest = /^Digest:\s+(\S+)/m.exec(output)?.[1];
  if (!digest) throw new Error(`no Digest: line in ${JSON.stringify(output.slice(0, 200))}`);
  const platforms = [...output.matchAll(/^\s+Platform:\s+(\S+)/gm)].map((m) => m[1]!);
  return { digest, platforms };
}

/** Reads a manifest (`crane manifest`): the os/arch of each image of an index, none for a single image. */
export function manifestPlatforms(manifest: string): string[] {
  const parsed = JSON.parse(manifest) as { manifests?: { platform?: { os?: string; architecture?: string; variant?: string } }[] };
  return (parsed.manifests ?? [])
    .map((m) => m.platform)
    .filter((p): p is { os: string; architecture: string; variant?: string } => !!p?.os && !!p.architecture)
    .map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/'));
}

function has(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const run = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

/** Asks the registry, with `crane` when installed, else `docker buildx imagetools`; each image is asked once. */
export function registryLookup(): DigestLookup {
  let ask: (image: string) => TagDigest;
  if (has('crane', ['version'])) {
    ask = (image) => ({ digest: run('crane', ['digest', image]).trim(), platforms: manifestPlatforms(run('crane', ['manifest', image])) });
  } else if (has('docker', ['buildx', 'version'])) {
    ask = (image) => parseImagetoolsInspect(run('docker', ['buildx', 'imagetools', 'inspect', image]));
  } else {
    throw new Error('needs crane (github.com/google/go-containerregistry) or docker buildx to ask the registry');
  }
  const seen = new Map<string, TagDigest>();
  return async (image) => {
    if (!seen.has(image)) seen.set(image, ask(image));
    return seen.get(image)!;
  };
}

/** Every runtime image's Dockerfile. */
export function runtimeDockerfiles(): string[] {
  return readdirSync(LAYERS)
    .map((dir) => path.join(LAYERS, dir, 'Dockerfile'))
    .filter((file) => existsSync(file))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const lookup = registryLookup();
  let stale = 0;
  for (const file of runtimeDockerfiles()) {
    const before = readFileSync(file, 'utf8');
    const { text, changes } = await pinDockerfile(before, lookup);
    for (const c of changes) {
      console.error(`${path.relative(process.cwd(), file)}:${c.line + 1}: ${c.image} ${c.from ?? '(unpinned)'} -> ${c.to}`);
    }
    stale += changes.length;
    if (!check && text !== before) writeFileSync(file, text);
  }
  if (check) console.error(stale === 0 ? 'pin-images: every base image is pinned to its tag\'s current digest' : `pin-images: ${stale} pin(s) missing or stale`);
  return check && stale > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`pin-images: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
