import { execFileSync } from 'node:child_process';

/**
 * Whether this machine can start processes in their own PID and mount namespaces. The emulated
 * Lambda environments and Fargate tasks need them: the runner there kills every process it can
 * see, which must never be the test runner's, and a Lambda environment remounts its filesystem.
 */
export function pidNamespacesAvailable(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount', '--mount-proc', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
