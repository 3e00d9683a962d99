/**
 * The firewall's command runner (src/virt/docker/firewall.ts): a command that exits before
 * reading its input (nsenter into a container that stopped meanwhile) is a rejected promise, not
 * an unhandled EPIPE — that took a whole novadock down during a rebuild.
 */
import { runCommand } from '../../src/virt/docker/netns';

test('a command that exits without reading a large input rejects with its exit status', async () => {
  const input = 'x'.repeat(4 * 1024 * 1024);
  await expect(runCommand(['sh', '-c', 'echo gone >&2; exit 3'], input)).rejects.toThrow('exited 3: gone');
});

test('a command that reads its input resolves', async () => {
  await expect(runCommand(['sh', '-c', 'cat >/dev/null'], 'rules\n')).resolves.toBeUndefined();
});
