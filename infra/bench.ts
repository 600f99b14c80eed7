/**
 * Bench only (`pavemaster:benchServices` > 1, see bench/run.ts): more blue/green apps beside the stack's own,
 * `<app>-1`, `<app>-2`, ..., in its namespace, so the benchmark can measure how the program grows with the number
 * of apps. They get no Ingress (one host belongs to one app) and are never part of a real stack.
 */
import * as pulumi from '@pulumi/pulumi';
import { BlueGreenApp, BlueGreenAppArgs } from '../components/BlueGreenApp';
import { Settings } from '../stacks/settings';

/** Creates the extra apps, each a copy of the main one's arguments in the main one's namespace. */
export function deployBenchApps(
  settings: Settings,
  main: BlueGreenApp,
  args: BlueGreenAppArgs,
  opts: pulumi.ComponentResourceOptions = {},
): BlueGreenApp[] {
  const apps: BlueGreenApp[] = [];
  for (let i = 1; i < settings.app.benchServices; i++) {
    const appName = `${settings.app.appName}-${i}`;
    apps.push(
      new BlueGreenApp(
        appName,
        {
          ...args,
          appName,
          namespace: main.namespace,
          createNamespace: false,
          // The main app made the namespace, or closed one made by someone else: its policies cover these apps.
          namespacePolicies: false,
          host: undefined,
        },
        opts,
      ),
    );
  }
  return apps;
}
