/**
 * The stack read from its files (release/stackfiles.ts): an output that holds a secret is left out and named,
 * so the session reads the outputs through the CLI instead of handing out a map without it (the post-promotion
 * check then found no Prometheus: `monitoring` holds Grafana's admin password beside `prometheusUrl`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readStackFiles } from '../../../release/stackfiles';

/** Pulumi's marker of a secret value in a checkpoint. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

function backendWith(outputs: Record<string, unknown>): { workDir: string; backendUrl: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-stackfiles-'));
  const workDir = path.join(root, 'work');
  const state = path.join(root, 'state', '.pulumi');
  fs.mkdirSync(workDir, { recursive: true });
  fs.mkdirSync(path.join(state, 'stacks', 'pavemaster'), { recursive: true });
  fs.writeFileSync(path.join(state, 'meta.yaml'), 'version: 1\n');
  fs.writeFileSync(path.join(workDir, 'Pulumi.yaml'), 'name: pavemaster\nruntime: nodejs\n');
  fs.writeFileSync(path.join(workDir, 'Pulumi.s1.yaml'), 'config:\n  pavemaster:activeSlot: blue\n');
  const checkpoint = {
    checkpoint: { latest: { resources: [{ type: 'pulumi:pulumi:Stack', outputs }] } },
  };
  fs.writeFileSync(path.join(state, 'stacks', 'pavemaster', 's1.json'), JSON.stringify(checkpoint));
  return { workDir, backendUrl: `file://${path.join(root, 'state')}` };
}

describe('readStackFiles', () => {
  it('keeps plain outputs and names the ones that hold a secret', () => {
    const { workDir, backendUrl } = backendWith({
      activeServiceName: 'pavemaster',
      monitoring: {
        prometheusUrl: 'http://prometheus.ns-monitoring.svc:9090',
        grafanaAdminPassword: { [SECRET_SIG]: '1b47061264138c4ac30d75fd1eb44270', ciphertext: 'v1:x' },
      },
    });
    const files = readStackFiles(workDir, 's1', backendUrl);
    if (typeof files === 'string') {
      throw new Error(`not read from the files: ${files}`);
    }
    expect(files.outputs).toEqual({ activeServiceName: { value: 'pavemaster', secret: false } });
    expect(files.secretOutputs).toEqual(['monitoring']);
    expect(files.config['pavemaster:activeSlot']).toEqual({ value: 'blue', secret: false });
  });

  it('names no output when none holds a secret', () => {
    const { workDir, backendUrl } = backendWith({ activeServiceName: 'pavemaster' });
    const files = readStackFiles(workDir, 's1', backendUrl);
    expect(typeof files === 'string' ? files : files.secretOutputs).toEqual([]);
  });
});
