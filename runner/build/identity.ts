// Which build of the hypervisor a run tested. Every decision our users make is about one
// build ("does this push break a board?", "can we release this?"), so every run names it:
//   1. given: `hil run --build B` or HIL_BUILD (CI passes $GITHUB_SHA);
//   2. else the git commit of the TGOSKits workspace the run built from, "-dirty" when
//      tracked files differ from it (a dirty tree is not that commit);
//   3. else the images' digests ("images:<12 hex>"), so two runs of the same bytes still
//      share a build.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

export interface BuildInfo {
  /** What reports, the release gate and compare call the build. */
  id: string;
  source: 'option' | 'env' | 'git' | 'images';
  /** The full commit, when it came from git. */
  commit?: string;
  /** The work tree had changes to tracked files. */
  dirty?: boolean;
  /** `git describe --always --tags`, when it came from git. */
  describe?: string;
}

/** The longest build name taken: a CI variable holding a whole log is not a name. */
const MAX_ID = 200;

/** A build name as given (trimmed), or why it cannot be one. */
export function checkBuildId(id: string, what: string): string {
  const t = id.trim();
  if (!t || t.length > MAX_ID || /[\x00-\x1f]/.test(t))
    throw new Error(
      `${what} ${JSON.stringify(id.slice(0, 40))}: give a build name or commit of 1 to ${MAX_ID} printable characters`,
    );
  return t;
}

const git = (ws: string, args: string[]) => {
  const r = spawnSync('git', ['-C', ws, ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

/** The workspace's commit, if it is a git work tree. */
export function gitBuild(workspace: string): BuildInfo | undefined {
  const commit = git(workspace, ['rev-parse', '--verify', '-q', 'HEAD']);
  if (!commit) return undefined;
  const dirty = Boolean(git(workspace, ['status', '--porcelain', '--untracked-files=no']));
  const describe = git(workspace, ['describe', '--always', '--tags', '--abbrev=12']);
  return { id: `${commit.slice(0, 12)}${dirty ? '-dirty' : ''}`, source: 'git', commit, dirty, describe };
}

/** The build given on the command line or in the environment, else the first workspace's
 * git commit. Undefined: name it from the images once they are known (imagesBuild). */
export function buildOf(given: string | undefined, workspaces: string[], env = process.env): BuildInfo | undefined {
  if (given !== undefined) return { id: checkBuildId(given, '--build'), source: 'option' };
  const fromEnv = env.HIL_BUILD ?? env.HIL_HYPERVISOR;
  if (fromEnv) return { id: checkBuildId(fromEnv, env.HIL_BUILD ? 'HIL_BUILD' : 'HIL_HYPERVISOR'), source: 'env' };
  for (const ws of workspaces) {
    const b = gitBuild(ws);
    if (b) return b;
  }
  return undefined;
}

/** A build named by the digests of the images it ran (order does not matter). */
export function imagesBuild(sha256s: string[]): BuildInfo | undefined {
  const unique = [...new Set(sha256s.filter(Boolean))].sort();
  if (!unique.length) return undefined;
  return {
    id: `images:${createHash('sha256').update(unique.join('\n')).digest('hex').slice(0, 12)}`,
    source: 'images',
  };
}
