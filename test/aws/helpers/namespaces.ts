import { execFileSync } from 'node:child_process';

/**
 * Whether this machine can start processes in their own PID namespace. The emulated Lambda
 * environments and Fargate tasks need one: the runner there kills every process it can see,
 * which must never be the test runner's.
 */
export function pidNamespacesAvailable(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
