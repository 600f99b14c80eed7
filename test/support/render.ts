/**
 * Renders a whole program under Pulumi's mocks exactly as the engine would see it: every registration's URN (as
 * the engine forms it), type, parent, options that decide replacement (protect, deleteBeforeReplace, ignoreChanges,
 * additional secret outputs), aliases, dependencies and inputs in their wire form (secrets marked), plus the
 * stack's outputs. Two renders of two trees can then be compared resource by resource, following aliases the way
 * the engine does; test/unit/render/baseline.test.ts compares the tree against a render of an older tree
 * (test/support/recordBaseline.ts records one).
 *
 * The program is run through its entry point (`infra/index.ts`, Pulumi.yaml's `main`) with the stack's config set
 * as Pulumi sets it, so no internal function of the tree is assumed: any tree with that entry point renders.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { withMockKubeconfig } from './kubeconfig';
import { EMAIL_RECEIVER } from './receivers';

/** One registered resource, as the engine receives it. */
export interface RenderedResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  /** The parent's URN; absent for children of the stack. */
  parent?: string;
  protect: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  additionalSecretOutputs: string[];
  /** Explicit aliases: URNs, or specs resolved against the resource's own parent, name and type. */
  aliases: string[];
  /** URNs this resource depends on (explicit dependsOn and through its inputs). */
  dependencies: string[];
  /**
   * The URNs its inputs take values from (the engine's property dependencies): what the engine replaces a
   * dependant for when one of them is deleted before it is replaced. Absent in renders recorded before it was.
   */
  propertyDependencies?: string[];
  /** The inputs in wire form; a secret is `{ "[secret]": value }`, a resource reference `{ "[resource]": urn }`. */
  inputs: unknown;
}

/** A rendered stack: its resources (sorted by URN) and its outputs. */
export interface Render {
  stack: string;
  resources: RenderedResource[];
  outputs: unknown;
}

/** Config values for one render: keys without the `pavemaster:` prefix, values as Pulumi hands them (text). */
export interface RenderConfig {
  stack: string;
  config: Record<string, string>;
  /** Keys whose values are secrets (as `pulumi config set --secret` marks them). */
  secretKeys?: string[];
}

const PROJECT = 'pavemaster';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
const RESOURCE_SIG = '5cf8f73096256a8f31e491e813e4eb8e';
const SIG_KEY = '4dabf18193072939515e22adb298388d';
const STACK_TYPE = 'pulumi:pulumi:Stack';

type Plain = Record<string, unknown>;

/** The qualified type of a URN ("parentType$type"). */
function qualifiedType(urn: string): string {
  return urn.split('::')[2];
}

/** A URN as the engine forms it: the parent's qualified type prefixes the type, except for the stack itself. */
export function createUrn(stack: string, type: string, name: string, parent?: string): string {
  const qualified = parent !== undefined ? `${qualifiedType(parent)}$${type}` : type;
  return `urn:pulumi:${stack}::${PROJECT}::${qualified}::${name}`;
}

/** The name part of a URN. */
export function urnName(urn: string): string {
  return urn.slice(urn.lastIndexOf('::') + 2);
}

/** Wire form → plain JSON with readable markers and sorted keys, so that renders compare and diff stably. */
function normalize(value: unknown, toUrn: (mockUrn: string) => string): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => normalize(v, toUrn));
  }
  if (value !== null && typeof value === 'object') {
    const o = value as Plain;
    if (o[SIG_KEY] === SECRET_SIG) {
      return { '[secret]': normalize(o.value, toUrn) };
    }
    if (o[SIG_KEY] === RESOURCE_SIG) {
      return { '[resource]': toUrn(String(o.urn)) };
    }
    const out: Plain = {};
    for (const key of Object.keys(o).sort()) {
      out[key] = normalize(o[key], toUrn);
    }
    return out;
  }
  return value;
}

interface AliasSpecLike {
  getName(): string;
  getType(): string;
  getStack(): string;
  getProject(): string;
  getParenturn(): string;
  getNoparent(): boolean;
}
interface AliasLike {
  getUrn(): string;
  getSpec(): AliasSpecLike | undefined;
}
interface RegisterRequestLike {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getAliasesList(): AliasLike[];
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (deps: { getUrnsList(): string[] }) => void): void };
  getObject(): { toJavaScript(): Plain } | undefined;
}
interface OutputsRequestLike {
  getUrn(): string;
  getOutputs(): { toJavaScript(): Plain } | undefined;
}
type Callback = (err: unknown, resp: unknown) => void;
interface MonitorLike {
  registerResource(req: RegisterRequestLike, cb: Callback): void;
  registerResourceOutputs(req: OutputsRequestLike, cb: Callback): void;
}

/**
 * Runs `load` (which must require the program's entry module afresh) under mocks for one stack and returns what
 * it registered. Mocked state echoes the inputs (a RandomPassword's result is `mock-password-<name>`), as in the
 * unit tests' harness.
 */
export async function render(rc: RenderConfig, load: () => unknown): Promise<Render> {
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Plain } {
        const state: Plain = { ...((args.inputs ?? {}) as Plain) };
        if (args.type === 'random:index/randomPassword:RandomPassword') {
          state.result = `mock-password-${args.name}`;
        }
        if (args.type === 'docker:index/image:Image') {
          // What the registry answers for a push: the repository and a (stable, fake) manifest digest.
          const repository = String(state.imageName).replace(/:[^:/]+$/, '');
          const digest = crypto.createHash('sha256').update(args.name).digest('hex');
          state.repoDigest = `${repository}@sha256:${digest}`;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Plain {
        return args.inputs as Plain;
      },
    },
    PROJECT,
    rc.stack,
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  // The mock monitor names a stack child "pulumi:pulumi:Stack$<type>"; the engine does not. Map its URNs.
  const engineUrn = new Map<string, string>();
  const toUrn = (mockUrn: string): string => engineUrn.get(mockUrn) ?? mockUrn;
  const raw: { req: RegisterRequestLike; mockUrn: string }[] = [];
  let outputs: unknown;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const mockUrn = (resp as { getUrn(): string }).getUrn();
        raw.push({ req, mockUrn });
        const parent = req.getParent() === '' ? undefined : engineUrn.get(req.getParent());
        const parentIsStack = parent !== undefined && qualifiedType(parent) === STACK_TYPE;
        engineUrn.set(
          mockUrn,
          createUrn(rc.stack, req.getType(), req.getName(), parentIsStack ? undefined : parent),
        );
      }
      cb(err, resp);
    });
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    if (qualifiedType(req.getUrn()) === STACK_TYPE) {
      outputs = req.getOutputs()?.toJavaScript();
    }
    registerOutputs(req, cb);
  };

  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(rc.config)) {
    values[`${PROJECT}:${k}`] = v;
  }
  pulumi.runtime.setAllConfig(
    values,
    (rc.secretKeys ?? []).map((k) => `${PROJECT}:${k}`),
  );
  await pulumi.runtime.runInPulumiStack(() => Promise.resolve(withMockKubeconfig(load) as pulumi.Inputs));
  await pulumi.runtime.disconnect();

  const resources: RenderedResource[] = [];
  for (const { req, mockUrn } of raw) {
    const urn = toUrn(mockUrn);
    if (req.getType() === STACK_TYPE) {
      continue;
    }
    const parentUrn = req.getParent() === '' ? undefined : toUrn(req.getParent());
    const parent = parentUrn !== undefined && qualifiedType(parentUrn) !== STACK_TYPE ? parentUrn : undefined;
    const aliases = req.getAliasesList().map((alias) => {
      const spec = alias.getSpec();
      if (alias.getUrn() !== '' || spec === undefined) {
        return toUrn(alias.getUrn());
      }
      const aliasParentRaw = spec.getNoparent()
        ? undefined
        : spec.getParenturn() !== ''
          ? toUrn(spec.getParenturn())
          : parent;
      const aliasParent =
        aliasParentRaw !== undefined && qualifiedType(aliasParentRaw) !== STACK_TYPE
          ? aliasParentRaw
          : undefined;
      return createUrn(
        spec.getStack() || rc.stack,
        spec.getType() || req.getType(),
        spec.getName() || req.getName(),
        aliasParent,
      );
    });
    resources.push({
      urn,
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      ...(parent !== undefined ? { parent } : {}),
      protect: req.getProtect(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      ignoreChanges: [...req.getIgnorechangesList()].sort(),
      additionalSecretOutputs: [...req.getAdditionalsecretoutputsList()].sort(),
      aliases: [...new Set(aliases)].sort(),
      dependencies: [...new Set(req.getDependenciesList().map(toUrn))]
        .filter((u) => qualifiedType(u) !== STACK_TYPE)
        .sort(),
      propertyDependencies: propertyDependencies(req, toUrn),
      inputs: normalize(req.getObject()?.toJavaScript() ?? {}, toUrn),
    });
  }
  resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  return { stack: rc.stack, resources, outputs: normalize(outputs ?? {}, toUrn) };
}

/** The URNs any input property of a registration depends on, engine URNs, sorted. */
function propertyDependencies(req: RegisterRequestLike, toUrn: (mockUrn: string) => string): string[] {
  const urns = new Set<string>();
  req.getPropertydependenciesMap().forEach((deps) => deps.getUrnsList().forEach((u) => urns.add(toUrn(u))));
  return [...urns].filter((u) => qualifiedType(u) !== STACK_TYPE).sort();
}

/**
 * Every URN a resource may have had before, the way the engine matches aliases: its explicit aliases, and for
 * each alias of its parent the same resource under that parent (a child whose name starts with the parent's name
 * takes the parent alias's name as its prefix, Pulumi's naming convention for children).
 */
export function previousUrns(r: RenderedResource, byUrn: ReadonlyMap<string, RenderedResource>): string[] {
  const out = new Set<string>([r.urn, ...r.aliases]);
  const parent = r.parent !== undefined ? byUrn.get(r.parent) : undefined;
  if (parent !== undefined) {
    const parentName = parent.name;
    for (const parentAlias of previousUrns(parent, byUrn)) {
      if (parentAlias === parent.urn) {
        continue;
      }
      const name = r.name.startsWith(parentName)
        ? `${urnName(parentAlias)}${r.name.slice(parentName.length)}`
        : r.name;
      const stack = r.urn.split('::')[0].slice('urn:pulumi:'.length);
      out.add(createUrn(stack, r.type, name, parentAlias));
    }
  }
  return [...out];
}

/** A tree's stack config the way Pulumi hands it over: Pulumi.yaml defaults under Pulumi.<stack>.yaml, as text. */
export function treeStackConfig(
  tree: string,
  stackFile: string,
  overrides: Record<string, unknown> = {},
): Record<string, string> {
  type Doc = { config?: Record<string, unknown> };
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const project = parse(fs.readFileSync(path.join(tree, 'Pulumi.yaml'), 'utf8')) as Doc;
  const stackDoc = parse(fs.readFileSync(path.join(tree, `Pulumi.${stackFile}.yaml`), 'utf8')) as Doc;
  const out: Record<string, string> = {};
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    const d = decl as { default?: unknown };
    if (key.startsWith(`${PROJECT}:`) && d.default !== undefined) {
      out[key.slice(PROJECT.length + 1)] = text(d.default);
    }
  }
  for (const [key, value] of Object.entries(stackDoc.config ?? {})) {
    if (key.startsWith(`${PROJECT}:`)) {
      out[key.slice(PROJECT.length + 1)] = text(value);
    }
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) {
      delete out[key];
    } else {
      out[key] = text(value);
    }
  }
  return out;
}

/** One render the baseline covers: a stack and its config overrides (secrets are fake, test-only values). */
export interface RenderCase {
  /** The case's name in the fixture. */
  id: string;
  /** The stack name (and stack file). */
  stack: 'staging' | 'production';
  overrides: Record<string, unknown>;
  secretKeys: string[];
}

/**
 * The cases: both committed stacks as they are, and each with every optional part switched on (receivers with
 * their secrets, app secrets and secret references, the other slot active with a smaller idle slot, a Kibana
 * host, a built image, two bench apps), so the optional code paths are covered too.
 */
export const RENDER_CASES: readonly RenderCase[] = (['staging', 'production'] as const).flatMap((stack) => [
  { id: stack, stack, overrides: {}, secretKeys: [] },
  {
    id: `${stack}-everything`,
    stack,
    overrides: {
      activeSlot: 'green',
      idleReplicas: 1,
      slackWebhookUrl: 'https://hooks.slack.example/services/T000/B000/render-test',
      smtpPassword: 'render-test-smtp-password',
      appSecrets: { API_TOKEN: 'render-test-token' },
      secretEnv: { DATABASE_URL: { secret: 'pavemaster-db', key: 'url' } },
      imageBuild: { context: 'app', repository: 'registry.example.com/pavemaster/web' },
      benchServices: 2,
      monitoring: {
        grafana: {
          ingressFrom: [
            { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          ],
        },
        alerting: {
          email: EMAIL_RECEIVER,
        },
      },
      logging: {
        kibana: {
          host: `kibana.${stack}.pavemaster.example`,
          tlsSecretName: 'kibana-tls',
          ingressFrom: [
            { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          ],
        },
        ...(stack === 'production'
          ? {
              shipper: {
                image:
                  'elastic/filebeat:8.19.22@sha256:1111111111111111111111111111111111111111111111111111111111111111',
              },
            }
          : {}),
      },
    },
    secretKeys: ['slackWebhookUrl', 'smtpPassword', 'appSecrets'],
  },
]);

/** Loads `<tree>/infra/index.ts` afresh outside jest (clears the tree's modules from Node's require cache). */
export function freshRequire(tree: string): () => unknown {
  const entry = path.join(tree, 'infra', 'index.ts');
  return () => {
    const prefix = fs.realpathSync(tree) + path.sep;
    for (const key of Object.keys(require.cache)) {
      if (key.startsWith(prefix) && !key.includes(`${path.sep}node_modules${path.sep}`)) {
        delete require.cache[key];
      }
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(entry) as unknown;
  };
}

/** Renders every case of a tree. */
export async function renderTree(
  tree: string,
  load: (tree: string) => () => unknown = freshRequire,
): Promise<Record<string, Render>> {
  const out: Record<string, Render> = {};
  for (const c of RENDER_CASES) {
    out[c.id] = await render(
      { stack: c.stack, config: treeStackConfig(tree, c.stack, c.overrides), secretKeys: c.secretKeys },
      load(tree),
    );
  }
  return out;
}
