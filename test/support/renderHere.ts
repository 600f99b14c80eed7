/** Renders a render case (test/support/render.ts) of this tree under jest, with a fresh copy of its modules. */
import * as pulumi from '@pulumi/pulumi';
import { Render, RENDER_CASES, render, treeStackConfig } from './render';
import { REPO } from './stackConfig';

export async function renderHere(id: string): Promise<Render> {
  const c = RENDER_CASES.find((x) => x.id === id);
  if (c === undefined) {
    throw new Error(`no render case ${id}`);
  }
  return render(
    { stack: c.stack, config: treeStackConfig(REPO, c.stack, c.overrides), secretKeys: c.secretKeys },
    () => {
      let exported: unknown;
      jest.isolateModules(() => {
        // The fresh module registry has its own @pulumi/pulumi: silence the expected receiver warnings there.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fresh = require('@pulumi/pulumi') as typeof pulumi;
        jest.spyOn(fresh.log, 'warn').mockImplementation(() => Promise.resolve());
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exported = require('../../infra/index');
      });
      return exported;
    },
  );
}
