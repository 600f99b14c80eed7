/**
 * The release's backup and migration Jobs on real pods (issue 13, item 4): the release command (the real Pulumi
 * engine, the real API server) on a throwaway copy of the staging stack (`it-jobs`, file backend in a project
 * copy, see releaseFixture.ts) whose app pods and gate Jobs run on the real node.
 *
 * The database is a stand-in: a pod in the stack's namespace running a small HTTP service on the reference app's
 * Node.js (its state is a JSON file on the pod's volume: the schema version, the migrations applied, the backups
 * taken, each backup a file beside it). It is reached the way a real database is: the app's `pavemaster:env`
 * names its URL, the stack's `pavemaster:egress` admits the app's pods (and so the gate Jobs, which carry the app
 * label) to it, and its own NetworkPolicy admits the app. The backup Job asks it to write a backup file, the
 * migration Job to move the schema one version up; both are real commands (`node -e ...`) in the released image,
 * with the release's environment (`PAVEMASTER_RELEASE_ID`).
 *
 * 1. once per release: a promote whose smoke gate fails after backup and migration succeeded, then the re-run
 *    that passes: the database saw exactly one backup (taken before the migration, at the old schema) and one
 *    migration of that release; the re-run skipped both;
 * 2. a failing migration (the database refuses it) stops the release at the migration gate: exit 2, the
 *    database's refusal in the error, no smoke Job, traffic and the active slot's pods untouched, the schema
 *    unchanged.
 *
 * Each test prints its figures (`jobs figures: ...`). Needs the real node and the images of scripts/images; fails
 * with the reason when either is missing, never skips.
 */
import { abort, deploy, promote } from '../../release/commands';
import { JobObject, poll } from '../../release/kube';
import { readReleaseLock } from '../../release/lock';
import { LOCAL_SMOKE_TEST_IMAGE } from '../../components/versions';
import { APP, Pod, RealStack, refused } from './releaseFixture';
import { hostGet, REAL_NODE } from './realnode';

jest.setTimeout(15 * 60 * 1000);

const STACK = 'it-jobs';
const V1 = 'pavemaster/web:1.0.0';
const V11 = 'pavemaster/web:1.1.0';
const V2 = 'pavemaster/web:2.0.0';
const DB = 'standin-db';
const DB_PORT = 5432;
const DB_URL = `http://${DB}.${STACK}.svc:${DB_PORT}`;
const NODE = '/usr/local/bin/node';

/**
 * The stand-in database: the schema version, the migrations and backups it saw, in /data/db.json (written
 * whole, then renamed); each backup a file /data/backup-<release>.json. A migration moves the schema exactly one
 * version up, or is refused (409) and changes nothing.
 */
const DB_SERVER = `
const http = require('http');
const fs = require('fs');
const FILE = '/data/db.json';
const load = () => fs.existsSync(FILE) ? JSON.parse(fs.readFileSync(FILE, 'utf8')) : { schema: 1, migrations: [], backups: [] };
const save = (db) => { fs.writeFileSync(FILE + '.tmp', JSON.stringify(db)); fs.renameSync(FILE + '.tmp', FILE); };
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://db');
  const db = load();
  const release = url.searchParams.get('release') || '';
  const answer = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    console.log(req.method, req.url, code);
  };
  if (req.method === 'GET' && url.pathname === '/state') return answer(200, db);
  if (req.method !== 'POST') return answer(405, { error: 'GET /state, POST /backup, POST /migrate' });
  if (!/^[a-z0-9-]+$/.test(release)) return answer(400, { error: 'no release id' });
  if (url.pathname === '/backup') {
    const file = '/data/backup-' + release + '.json';
    fs.writeFileSync(file, JSON.stringify({ schema: db.schema, migrations: db.migrations }));
    db.backups.push({ release, schema: db.schema, file, bytes: fs.statSync(file).size, at: new Date().toISOString() });
    save(db);
    return answer(200, { file, schema: db.schema });
  }
  if (url.pathname === '/migrate') {
    const to = Number(url.searchParams.get('to'));
    if (to !== db.schema + 1) {
      return answer(409, { error: 'cannot migrate schema ' + db.schema + ' to ' + to + ': one version at a time' });
    }
    db.migrations.push({ release, from: db.schema, to, at: new Date().toISOString() });
    db.schema = to;
    save(db);
    return answer(200, { schema: db.schema });
  }
  answer(404, { error: 'no such operation' });
}).listen(${DB_PORT}, () => console.log('stand-in database on ${DB_PORT}, schema', load().schema));
`;

/**
 * The gate Jobs' client, one line: POSTs `<DATABASE_URL><operation>&release=<PAVEMASTER_RELEASE_ID>` and exits 0
 * on a 2xx. A connection that cannot be made yet is tried again for 20 s (a new pod is admitted by the
 * NetworkPolicy enforcer a moment after it starts, see release/gates.ts SMOKE_CONNECT_RETRY_SECONDS); an answer
 * is never retried.
 */
const DB_CLIENT =
  "const op = process.argv[1]; const url = process.env.DATABASE_URL + op + '&release=' + process.env.PAVEMASTER_RELEASE_ID; " +
  'const end = Date.now() + 20000; let tries = 0; ' +
  "const go = () => fetch(url, { method: 'POST' }).then(async (r) => { console.log(op + ' -> ' + r.status + ' ' + (await r.text()) + (tries ? ' after ' + tries + ' connection retries' : '')); process.exit(r.ok ? 0 : 1); }, " +
  "(e) => { if (Date.now() < end) { tries++; setTimeout(go, 1000); } else { console.log('database unreachable: ' + String((e.cause && e.cause.message) || e.message)); process.exit(1); } }); " +
  'go();';

const dbCommand = (operation: string): string[] => [NODE, '-e', DB_CLIENT, operation];

const real = new RealStack(STACK);

interface DbState {
  schema: number;
  migrations: { release: string; from: number; to: number; at: string }[];
  backups: { release: string; schema: number; file: string; bytes: number; at: string }[];
}

/** The stand-in database's state, from the host through its Service's ClusterIP (kube-proxy's rules). */
async function dbState(): Promise<DbState> {
  const svc = await real.kube.get<{ spec?: { clusterIP?: string } }>('service', DB);
  const r = await hostGet(`http://${svc?.spec?.clusterIP ?? 'no-cluster-ip'}:${DB_PORT}/state`);
  if ('error' in r || r.status !== 200) {
    throw new Error(
      `reading the stand-in database failed: ${'error' in r ? r.error : `${r.status} ${r.body}`}`,
    );
  }
  return JSON.parse(r.body) as DbState;
}

/** The stand-in database: its pod, Service and NetworkPolicy (the app's pods may reach it on its port). */
async function startDatabase(): Promise<void> {
  const labels = { 'app.kubernetes.io/name': DB };
  await real.kube.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: DB, namespace: STACK, labels },
    spec: {
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'db',
          image: V1,
          command: [NODE, '-e', DB_SERVER],
          ports: [{ containerPort: DB_PORT, name: 'db' }],
          readinessProbe: { httpGet: { path: '/state', port: DB_PORT }, periodSeconds: 1 },
          resources: {
            requests: { cpu: '20m', memory: '32Mi', 'ephemeral-storage': '16Mi' },
            limits: { cpu: '200m', memory: '128Mi', 'ephemeral-storage': '64Mi' },
          },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', emptyDir: { sizeLimit: '16Mi' } }],
    },
  });
  await real.kube.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: DB, namespace: STACK, labels },
    spec: { selector: labels, ports: [{ name: 'db', port: DB_PORT, targetPort: DB_PORT }] },
  });
  await real.kube.apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${DB}-allow-app`, namespace: STACK, labels },
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { app: APP } } }],
          ports: [{ protocol: 'TCP', port: DB_PORT }],
        },
      ],
    },
  });
  const pod = await poll(
    async () => {
      const p = await real.kube.get<Pod>('pod', DB);
      return (p?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
        ? p
        : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1000, what: `pod ${DB} to be Ready` },
  );
  expect(pod.spec?.nodeName).toBe(REAL_NODE);
  // A Ready pod is not yet a reachable Service: kube-proxy programs the ClusterIP's rules on its own schedule
  // (a CI run read ECONNREFUSED on the ClusterIP right after Ready). Wait until the host reaches it.
  let lastError = 'not tried';
  await poll(
    async () => {
      try {
        return await dbState();
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        return undefined;
      }
    },
    {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: `the stand-in database to answer through its Service ${DB}`,
      last: () => Promise.resolve(lastError),
    },
  );
}

/** The pods of a gate Job: where they ran. */
async function jobPods(job: string): Promise<Pod[]> {
  return real.kube.list<Pod>('pods', `job-name=${job}`);
}

function figures(line: string): void {
  console.log(`jobs figures: ${line}`);
}

/** The duration of a gate in the library calls' release log since `mark`, in seconds. */
function gateSeconds(mark: number, gate: string): string {
  const r = real.records.slice(mark).find((x) => x.step === `gate:${gate}` && x.outcome !== 'started');
  return r?.durationMs === undefined
    ? `${gate} ${r?.outcome ?? 'not run'}`
    : `${gate} ${(r.durationMs / 1000).toFixed(1)} s`;
}

beforeAll(async () => {
  await real.start(
    {
      blueImage: V1,
      greenImage: V1,
      replicas: 1,
      logging: { enabled: false },
      monitoring: { enabled: false },
      env: { NODE_ENV: 'production', LOG_FORMAT: 'json', DATABASE_URL: DB_URL },
      egress: [{ podLabels: { 'app.kubernetes.io/name': DB }, ports: [DB_PORT] }],
      release: {
        readyTimeoutSeconds: 60,
        smoke: { timeoutSeconds: 60 },
        backup: { command: dbCommand('/backup?'), timeoutSeconds: 60 },
        migration: { command: dbCommand('/migrate?to=2'), timeoutSeconds: 60 },
        postPromotion: { windowSeconds: 0, intervalSeconds: 5 },
      },
    },
    [V1, V11, V2, LOCAL_SMOKE_TEST_IMAGE],
  );
  await startDatabase();
});

afterAll(async () => {
  await real.stop('releaseJobs.txt');
});

describe('backup and migration Jobs on real pods', () => {
  it('run once per release: a promote stopped by the smoke gate after them, then its re-run, backed up and migrated exactly once, the backup first', async () => {
    const before = await dbState();
    expect(before).toEqual({ schema: 1, migrations: [], backups: [] });
    const mark = real.records.length;
    const { releaseId } = await real.cleanOnFailure(async () => {
      const deployed = await deploy(STACK, V2, real.opts);
      // A smoke path the release does not serve (the operator's mistake): the gate after the migration fails.
      real.setRelease({ smoke: { timeoutSeconds: 60, paths: ['/healthz', '/no-such-page'] } });
      const smoke = await refused(promote(STACK, real.opts));
      expect(smoke.exitCode).toBe(2);
      expect(smoke.details.gate).toBe('smoke');
      expect(smoke.message).toContain('gate smoke failed, traffic stays on blue');
      expect(smoke.message).toMatch(/no-such-page answered 404/);
      expect(await real.selector(APP)).toBe('blue');
      const first = await dbState();
      figures(
        `first promote of ${deployed.releaseId}: ${gateSeconds(mark, 'backup')}, ${gateSeconds(mark, 'migration')}, smoke failed (exit ${smoke.exitCode}); database schema ${before.schema} -> ${first.schema}`,
      );
      expect(first.schema).toBe(2);
      // The operator fixes the smoke paths and promotes again.
      real.setRelease({ smoke: { timeoutSeconds: 60 } });
      const again = real.records.length;
      const result = await promote(STACK, real.opts);
      expect(result.gates.map((g) => [g.gate, g.ok, g.skipped === true])).toEqual([
        ['ready', true, false],
        ['backup', true, true],
        ['migration', true, true],
        ['smoke', true, false],
      ]);
      figures(`re-run: backup and migration skipped, ${gateSeconds(again, 'smoke')}, traffic on green`);
      return deployed;
    });
    expect(real.output).toContain(
      `gate migration: skipped - job/${APP}-migration-${releaseId} already succeeded for release ${releaseId}`,
    );
    expect(await real.selector(APP)).toBe('green');
    expect(await real.activeVersion()).toBe('200 2.0.0');
    // The database saw one backup and one migration of this release, the backup at the schema before it.
    const after = await dbState();
    expect(after.schema).toBe(2);
    expect(after.migrations.map((m) => [m.release, m.from, m.to])).toEqual([[releaseId, 1, 2]]);
    expect(after.backups.map((b) => [b.release, b.schema, b.file])).toEqual([
      [releaseId, 1, `/data/backup-${releaseId}.json`],
    ]);
    expect(after.backups[0].bytes).toBeGreaterThan(0);
    expect(Date.parse(after.backups[0].at)).toBeLessThan(Date.parse(after.migrations[0].at));
    // Real commands in real pods on the real node, with the release's environment; their answers in the logs.
    for (const gate of ['backup', 'migration']) {
      const job = `${APP}-${gate}-${releaseId}`;
      const pods = await jobPods(job);
      expect(pods.map((p) => [p.spec?.nodeName, p.status?.phase])).toEqual([[REAL_NODE, 'Succeeded']]);
      const logs = await real.kube.jobLogs(job);
      expect(logs).toMatch(
        gate === 'backup' ? /\/backup\? -> 200 .*"schema":1/ : /\/migrate\?to=2 -> 200 .*"schema":2/,
      );
    }
    expect(await readReleaseLock(real.kube, APP)).toBeUndefined();
  });

  it('a failing migration stops the release at its gate: exit 2, the database refusal in the error, no smoke test, traffic, active pods and schema unchanged', async () => {
    // The next release's migration is wrong: it jumps a schema version, which the database refuses.
    real.setRelease({ migration: { command: dbCommand('/migrate?to=4'), timeoutSeconds: 60 } });
    const activePods = (await real.readyPods('green')).map((p) => p.metadata.name);
    expect(activePods).toHaveLength(1);
    const before = await dbState();
    const mark = real.records.length;
    const run = await real.cleanOnFailure(async () => {
      const deployed = await deploy(STACK, V11, real.opts);
      const e = await refused(promote(STACK, real.opts));
      return { releaseId: deployed.releaseId, e };
    });
    const { releaseId, e } = run;
    figures(
      `failing migration of ${releaseId}: ${gateSeconds(mark, 'backup')}, ${gateSeconds(mark, 'migration')}; exit ${e.exitCode}: ${e.message}`,
    );
    expect(e.exitCode).toBe(2);
    expect(e.details.gate).toBe('migration');
    expect(e.message).toContain('gate migration failed, traffic stays on green');
    expect(e.message).toContain(`job/${APP}-migration-${releaseId} failed`);
    expect(String(e.details.logs)).toContain('/migrate?to=4 -> 409');
    expect(String(e.details.logs)).toContain('cannot migrate schema 2 to 4');
    // The gate after it never ran.
    expect(await real.kube.get<JobObject>('job', `${APP}-smoke-${releaseId}`)).toBeUndefined();
    // Traffic, the active slot and the data are as they were; the new release's backup was taken.
    expect(await real.selector(APP)).toBe('green');
    expect((await real.readyPods('green')).map((p) => p.metadata.name)).toEqual(activePods);
    expect(await real.activeVersion()).toBe('200 2.0.0');
    const after = await dbState();
    expect({ schema: after.schema, migrations: after.migrations }).toEqual({
      schema: before.schema,
      migrations: before.migrations,
    });
    expect(after.backups.map((b) => [b.release, b.schema])).toEqual([
      ...before.backups.map((b) => [b.release, b.schema]),
      [releaseId, 2],
    ]);
    // The release stays open until it is ended (what the release workflow does after exit 2).
    expect((await readReleaseLock(real.kube, APP))?.releaseId).toBe(releaseId);
    await abort(STACK, real.opts);
    expect(await readReleaseLock(real.kube, APP)).toBeUndefined();
    await real.expectAgreement('green');
  });
});
