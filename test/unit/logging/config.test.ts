/**
 * The generated configuration, checked by the most real tools this machine can install (docs/logging.md):
 * - the Logstash pipeline is parsed by `logstash-pipeline-parser` (PyPI), a PEG port of Logstash's own treetop
 *   grammar, and its drop regex is run against sample lines;
 * - the setup Jobs' script runs for real (sh, curl, awk) against an HTTP server on 127.0.0.1 that stores what it
 *   is sent: a second run must send the same requests and leave the same state;
 * - the Filebeat configuration is parsed as YAML (Filebeat itself cannot be installed here);
 * - the ILM policy, index template and security bodies are typed with the official Elasticsearch client's
 *   request types (`tsc` checks them); here their content is checked.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import type { estypes } from '@elastic/elasticsearch';
import { parse as parseYaml } from 'yaml';
import { LOG_INDEX_PATTERN, NAMES } from '../../../components/logging/defaults';
import {
  elasticsearchSetupRequests,
  errorQuery,
  ilmPolicy,
  indexTemplate,
  kibanaSetupRequests,
  LOG_FIELDS,
  setupFiles,
  setupScript,
} from '../../../components/logging/elastic';
import { certificateScript } from '../../../components/logging/certificates';
import { filebeatConfig, logstashPipeline, logstashSettings } from '../../../components/logging/pipeline';
import { resolveExternalElasticsearch } from '../../../components/logging/external';
import { EXTERNAL_CA_FILE, outputOptions } from '../../../components/logging/Logstash';
import { CA_FILE } from '../../../components/logging/tls';

const run = promisify(execFile);

const TLS_FILES = {
  caFile: CA_FILE,
  beatsCertificate: '/usr/share/logstash/certs/logstash.crt',
  beatsKey: '/usr/share/logstash/certs/logstash.key',
};
const PIPELINE = logstashPipeline({
  elasticsearchUrl: 'https://elasticsearch.pavemaster-staging-logging.svc:9200',
  dataStreamNamespace: 'staging',
  dropPaths: ['/healthz', '/readyz', '/metrics'],
  userEnv: 'ES_USER',
  passwordEnv: 'ES_PASSWORD',
  ...TLS_FILES,
});

/** The virtualenv `scripts/setup/logging-tools.sh` installs the pipeline parser into. */
const PYTHON = path.join(
  process.env.PAVEMASTER_CACHE ?? path.join(os.homedir(), '.cache', 'pavemaster'),
  'logging-venv',
  'bin',
  'python3',
);

/** Parses a pipeline with the PyPI grammar and returns its AST as JSON (or throws with the parser's message). */
async function parsePipeline(text: string): Promise<unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-'));
  const file = path.join(dir, 'logstash.conf');
  fs.writeFileSync(file, text);
  const script = [
    'import json, sys',
    'from logstash_pipeline_parser import Pipeline',
    'print(json.dumps(Pipeline(open(sys.argv[1]).read()).parse(), default=str))',
  ].join('\n');
  if (!fs.existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: run scripts/setup/logging-tools.sh`);
  }
  try {
    const { stdout } = await run(PYTHON, ['-c', script, file]);
    return JSON.parse(stdout) as unknown;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every [operator, regex] condition of a parsed pipeline. */
function regexConditions(ast: unknown, out: string[] = []): string[] {
  if (Array.isArray(ast)) {
    if (ast.length === 3 && ast[1] === '=~' && typeof ast[2] === 'string') {
      out.push(ast[2]);
    }
    for (const item of ast) {
      regexConditions(item, out);
    }
  }
  return out;
}

describe('Logstash pipeline', () => {
  let ast: unknown;
  beforeAll(async () => {
    ast = await parsePipeline(PIPELINE);
  }, 60_000);

  it("parses with Logstash's grammar into input, filter and output sections", () => {
    expect(Array.isArray(ast)).toBe(true);
    expect((ast as [string][]).map((section) => section[0])).toEqual(['input', 'filter', 'output']);
    const text = JSON.stringify(ast);
    expect(text).toContain(
      '["beats",[["id",["beats"]],["port",[5044]],["ssl_enabled",[true]],' +
        '["ssl_certificate",["/usr/share/logstash/certs/logstash.crt"]],' +
        '["ssl_key",["/usr/share/logstash/certs/logstash.key"]]]]',
    );
    expect(text).toContain('["data_stream_namespace",["staging"]]');
    expect(text).toContain('["password",["${ES_PASSWORD}"]]');
  });

  it('uses only options the Elasticsearch output accepts in data-stream mode', () => {
    // logstash-output-elasticsearch (data_stream_support.rb) raises a ConfigurationError for any option other than
    // the connection settings, `id`, `action => create`, `routing`, `pipeline`, `ecs_compatibility` and
    // `data_stream*` when `data_stream => true`: no `index`, no `manage_template`.
    const [, outputs] = (ast as [string, [string, [string, unknown][]][]][])[2];
    const [plugin, params] = outputs[0];
    expect(plugin).toBe('elasticsearch');
    // The ssl_* options are connection settings (the plugin's shared API configs), allowed in data-stream mode.
    const connection = [
      'hosts',
      'user',
      'password',
      'ssl_enabled',
      'ssl_verification_mode',
      'ssl_certificate_authorities',
    ];
    for (const [name] of params) {
      expect(name === 'id' || connection.includes(name) || name.startsWith('data_stream')).toBe(true);
    }
    expect(params).toContainEqual(['data_stream', ['true']]);
  });

  it('writes to Elasticsearch over HTTPS only, fully verified with the trust bundle', () => {
    const [, outputs] = (ast as [string, [string, [string, unknown][]][]][])[2];
    const params = Object.fromEntries(outputs[0][1]);
    expect(params.hosts).toEqual([['https://elasticsearch.pavemaster-staging-logging.svc:9200']]);
    expect(params.ssl_enabled).toEqual([true]);
    expect(params.ssl_verification_mode).toEqual(['full']);
    expect(params.ssl_certificate_authorities).toEqual([[CA_FILE]]);
    expect(() =>
      logstashPipeline({
        elasticsearchUrl: 'http://elasticsearch:9200',
        dataStreamNamespace: 'x',
        dropPaths: ['/healthz'],
        userEnv: 'U',
        passwordEnv: 'P',
        ...TLS_FILES,
      }),
    ).toThrow(/must be https/);
  });

  it('the parser really rejects a broken pipeline (so the check above can fail)', async () => {
    await expect(parsePipeline(PIPELINE.replace('output {', 'output {{'))).rejects.toThrow();
  });

  it('drops health-check access lines and keeps everything else (the parsed regex, run)', () => {
    const regexes = regexConditions(ast);
    const drop = regexes.find((r) => r.includes('GET|HEAD'));
    expect(drop).toBeDefined();
    // Ruby and JavaScript agree on this subset: groups, alternation, \xHH escapes, character classes.
    const re = new RegExp(drop ?? '');
    for (const line of [
      '10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET /healthz HTTP/1.1" 200 2',
      '"HEAD /readyz?full=1 HTTP/1.1" 200',
      'GET /metrics',
    ]) {
      expect(re.test(line)).toBe(true);
    }
    for (const line of [
      '"GET /healthzzz HTTP/1.1" 200',
      '"POST /healthz HTTP/1.1" 200',
      '"GET /api/orders HTTP/1.1" 500',
    ]) {
      expect(re.test(line)).toBe(false);
    }
    const json = regexes.find((r) => r.includes('\\{'));
    expect(new RegExp(json ?? '').test('  {"level":"info"}')).toBe(true);
    expect(new RegExp(json ?? '').test('plain text line')).toBe(false);
  });

  it('parses JSON into [json], keeps other lines as message, and copies the pod metadata', () => {
    expect(PIPELINE).toContain('source => "message"');
    expect(PIPELINE).toContain('target => "json"');
    expect(PIPELINE).toContain('skip_on_invalid_json => true');
    for (const [to, from] of [
      ['slot', '[kubernetes][labels][slot]'],
      ['version', '[kubernetes][labels][version]'],
      ['pod', '[kubernetes][pod][name]'],
      ['namespace', '[kubernetes][namespace]'],
      ['container', '[kubernetes][container][name]'],
    ]) {
      expect(PIPELINE).toContain(`"${from}" => "${to}"`);
    }
    expect(PIPELINE).toContain('[json][path] in ["/healthz", "/readyz", "/metrics"]');
  });

  it('refuses options that would produce a broken pipeline', () => {
    const base = {
      elasticsearchUrl: 'https://es:9200',
      userEnv: 'U',
      passwordEnv: 'P',
      dropPaths: ['/healthz'],
      ...TLS_FILES,
    };
    expect(() => logstashPipeline({ ...base, dataStreamNamespace: 'pave-master' })).toThrow(/data stream/);
    expect(() => logstashPipeline({ ...base, dataStreamNamespace: 'x', passwordEnv: 'p w' })).toThrow();
    expect(() => logstashPipeline({ ...base, dataStreamNamespace: 'x', dropPaths: [] })).toThrow();
    expect(() =>
      logstashPipeline({
        ...base,
        dataStreamNamespace: 'x',
        elasticsearchUrl: ['https://a:9200', 'http://b:9200'],
      }),
    ).toThrow(/must be https/);
    expect(() => logstashPipeline({ ...base, dataStreamNamespace: 'x', elasticsearchUrl: [] })).toThrow();
    expect(() => logstashPipeline({ ...base, dataStreamNamespace: 'x', apiKeyEnv: 'K' })).toThrow(/either/);
    expect(() =>
      logstashPipeline({ ...base, dataStreamNamespace: 'x', dataStreamDataset: 'my-app' }),
    ).toThrow(/dataset/);
  });

  it('logstash.yml enables the persisted queue below the volume size', () => {
    const yml = parseYaml(logstashSettings({ queuePath: '/q', queueMaxBytes: 0.9 * 2 * 2 ** 30 })) as Record<
      string,
      unknown
    >;
    expect(yml['queue.type']).toBe('persisted');
    expect(yml['queue.max_bytes']).toBe('1843mb');
    expect(yml['path.queue']).toBe('/q');
    expect(yml['api.http.host']).toBe('0.0.0.0');
  });
});

describe('index lifecycle and template', () => {
  it('rolls over in the hot phase and deletes after the retention', () => {
    const body = ilmPolicy({ retentionDays: 30, rolloverMaxAge: '1d', rolloverMaxPrimaryShardSize: '10gb' });
    expect(body).toEqual({
      policy: {
        _meta: { managed_by: 'pavemaster', description: 'PaveMaster logs, kept 30 days' },
        phases: {
          hot: {
            min_age: '0ms',
            actions: {
              rollover: { max_age: '1d', max_primary_shard_size: '10gb' },
              set_priority: { priority: 100 },
            },
          },
          delete: { min_age: '30d', actions: { delete: {} } },
        },
      },
    });
    expect(() =>
      ilmPolicy({ retentionDays: 0, rolloverMaxAge: '1d', rolloverMaxPrimaryShardSize: '1gb' }),
    ).toThrow();
  });

  it('maps the log fields on a data stream managed by the policy', () => {
    const t = indexTemplate({ replicas: 3 });
    expect(t.index_patterns).toEqual([LOG_INDEX_PATTERN]);
    expect(t.data_stream).toEqual({});
    expect(t.priority).toBeGreaterThan(100);
    expect(t.template?.settings).toEqual({
      index: { lifecycle: { name: NAMES.ilmPolicy }, number_of_shards: 1, number_of_replicas: 1 },
    });
    const props = t.template?.mappings?.properties ?? {};
    for (const field of ['slot', 'version', 'pod', 'namespace', 'container']) {
      expect(props[field]).toEqual({ type: 'keyword', ignore_above: 256 });
    }
    expect(LOG_FIELDS).toContain('slot');
    expect(props['@timestamp']).toEqual({ type: 'date' });
    expect(props.json).toEqual({ type: 'flattened' });
    expect(t.template?.mappings?.dynamic).toBe(false);
    // A single node cannot hold replicas: none in staging, or the cluster stays yellow.
    expect(indexTemplate({ replicas: 1 }).template?.settings).toMatchObject({
      index: { number_of_replicas: 0 },
    });
  });

  it('the client types that check the bodies reject a misplaced key (tsc fails if they stop)', () => {
    // @ts-expect-error: "max_agee" is no rollover option, so the official types refuse it.
    const rollover: estypes.IlmRolloverAction = { max_agee: '1d' };
    // @ts-expect-error: index privileges take "names", not "indices".
    const privileges: estypes.SecurityIndicesPrivileges = { indices: ['x'], privileges: ['read'] };
    expect([rollover, privileges]).toHaveLength(2);
  });

  it('sends only PUTs of fixed names, and POSTs that set fixed values', () => {
    const requests = elasticsearchSetupRequests({
      retentionDays: 7,
      rolloverMaxAge: '1d',
      rolloverMaxPrimaryShardSize: '10gb',
      replicas: 1,
    });
    for (const r of requests) {
      if (r.method === 'POST') {
        expect(r.path).toMatch(/\/_password$/);
      } else {
        expect(r.method).toBe('PUT');
      }
    }
    for (const r of kibanaSetupRequests()) {
      expect(r.method).toBe('POST');
      expect(r.path).toMatch(/^\/api\/saved_objects\/[-a-z]+\/[-a-z]+\?overwrite=true$/);
    }
    expect(errorQuery('blue')).toBe('slot:"blue" and level:("error" or "fatal")');
  });

  it('keeps passwords out of the bodies: only placeholders', () => {
    const files = setupFiles(
      elasticsearchSetupRequests({
        retentionDays: 7,
        rolloverMaxAge: '1d',
        rolloverMaxPrimaryShardSize: '1gb',
        replicas: 1,
      }),
    );
    expect(files['04-writer-user.json']).toContain('"password": "${WRITER_PASSWORD}"');
    expect(files['09-kibana-system-user.json']).toContain('"password": "${KIBANA_SYSTEM_PASSWORD}"');
  });
});

/** A tiny stand-in for Elasticsearch/Kibana: stores each PUT/POST body by path and logs every request. */
async function withServer(
  fn: (url: string, state: Map<string, string>, log: string[]) => Promise<void>,
  failOn?: string,
): Promise<void> {
  const state = new Map<string, string>();
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const auth = req.headers.authorization ?? '';
      const body = Buffer.concat(chunks).toString('utf8');
      log.push(`${req.method} ${req.url} ${auth} ${String(req.headers['kbn-xsrf'] ?? '')}`);
      if (auth !== `Basic ${Buffer.from('elastic:Setup1Password').toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
      if (req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"green"}');
        return;
      }
      if (`${req.method} ${req.url}` === failOn) {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"refused by the test"}');
        return;
      }
      try {
        JSON.parse(body);
      } catch {
        res.writeHead(400).end('bad json');
        return;
      }
      state.set(`${req.method} ${req.url}`, body);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"acknowledged":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await fn(`http://127.0.0.1:${port}`, state, log);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Runs a setup script as its Job does. `env` values are environment variables; `secretFiles` are written to a
 * directory passed as SECRETS, as the Job's projected Secret volume mounts them (one file per variable).
 */
async function runSetup(
  url: string,
  files: Record<string, string>,
  script: string,
  env: Record<string, string>,
  secretFiles: Record<string, string> = {},
): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'setup-'));
  const bodies = path.join(dir, 'setup');
  const scratch = path.join(dir, 'scratch');
  const secrets = path.join(dir, 'secrets');
  fs.mkdirSync(bodies);
  fs.mkdirSync(scratch);
  fs.mkdirSync(secrets);
  for (const [name, text] of Object.entries({ ...files, 'setup.sh': script })) {
    fs.writeFileSync(path.join(bodies, name), text);
  }
  for (const [name, value] of Object.entries(secretFiles)) {
    fs.writeFileSync(path.join(secrets, name), value, { mode: 0o440 });
  }
  try {
    const { stdout } = await run('sh', [path.join(bodies, 'setup.sh')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        TARGET_URL: url,
        SETUP_USER: 'elastic',
        ...('SETUP_PASSWORD' in secretFiles ? {} : { SETUP_PASSWORD: 'Setup1Password' }),
        BODIES: bodies,
        SCRATCH: scratch,
        SECRETS: secrets,
        ...env,
      },
    });
    // Nothing with a password stays behind but curl's config in the (memory-backed, in the pod) scratch directory.
    expect(fs.readdirSync(scratch).sort()).toEqual(['curlrc', 'response']);
    return stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('setup Jobs, run for real against a local server', () => {
  const passwords = {
    WRITER_PASSWORD: 'Writer1abc',
    READER_PASSWORD: 'Reader1abc',
    EXPORTER_PASSWORD: 'Exporter1abc',
    KIBANA_SYSTEM_PASSWORD: 'Kibana1abc',
  };

  it('Elasticsearch setup applies every request, and a second run changes nothing', async () => {
    const requests = elasticsearchSetupRequests({
      retentionDays: 7,
      rolloverMaxAge: '1d',
      rolloverMaxPrimaryShardSize: '10gb',
      replicas: 1,
    });
    const files = setupFiles(requests);
    const script = setupScript({ waitPath: '/_cluster/health?wait_for_status=yellow&timeout=5s' });
    await withServer(async (url, state, log) => {
      const first = await runSetup(url, files, script, passwords);
      expect(first).toContain('setup complete');
      const afterFirst = new Map(state);
      const firstLog = [...log];
      expect(afterFirst.size).toBe(requests.length);
      log.length = 0;
      await runSetup(url, files, script, passwords);
      expect(new Map(state)).toEqual(afterFirst);
      expect(log).toEqual(firstLog);

      const policy = JSON.parse(afterFirst.get(`PUT /_ilm/policy/${NAMES.ilmPolicy}`) ?? '{}') as unknown;
      expect(policy).toEqual(
        ilmPolicy({ retentionDays: 7, rolloverMaxAge: '1d', rolloverMaxPrimaryShardSize: '10gb' }),
      );
      const writer = JSON.parse(afterFirst.get(`PUT /_security/user/${NAMES.writerUser}`) ?? '{}') as {
        password: string;
        roles: string[];
      };
      expect(writer).toMatchObject({ password: 'Writer1abc', roles: [NAMES.writerRole] });
      expect(afterFirst.get('POST /_security/user/kibana_system/_password')).toContain('Kibana1abc');
      expect([...afterFirst.values()].join('')).not.toContain('${');
    });
  }, 60_000);

  it('reads every password from its file under SECRETS, as the Job mounts its Secrets, none from the environment', async () => {
    const requests = elasticsearchSetupRequests({
      retentionDays: 7,
      rolloverMaxAge: '1d',
      rolloverMaxPrimaryShardSize: '10gb',
      replicas: 1,
    });
    const files = setupFiles(requests);
    const script = setupScript({ waitPath: '/_cluster/health?wait_for_status=yellow&timeout=5s' });
    await withServer(async (url, state) => {
      // A Secret volume's files end without a newline; one written by hand may have one: both must work.
      const out = await runSetup(
        url,
        files,
        script,
        {},
        {
          SETUP_PASSWORD: 'Setup1Password',
          WRITER_PASSWORD: 'Writer1abc\n',
          READER_PASSWORD: passwords.READER_PASSWORD,
          EXPORTER_PASSWORD: passwords.EXPORTER_PASSWORD,
          KIBANA_SYSTEM_PASSWORD: passwords.KIBANA_SYSTEM_PASSWORD,
        },
      );
      expect(out).toContain('setup complete');
      expect(state.size).toBe(requests.length);
      const writer = JSON.parse(state.get(`PUT /_security/user/${NAMES.writerUser}`) ?? '{}') as {
        password: string;
      };
      expect(writer.password).toBe('Writer1abc');
      expect(state.get('POST /_security/user/kibana_system/_password')).toContain('Kibana1abc');
      expect([...state.values()].join('')).not.toContain('${');
    });
  }, 60_000);

  it('Kibana setup sends the kbn-xsrf header and overwrites fixed ids', async () => {
    const files = setupFiles(kibanaSetupRequests());
    const script = setupScript({ waitPath: '/api/status', headers: ['kbn-xsrf: true'] });
    await withServer(async (url, state, log) => {
      await runSetup(url, files, script, {});
      expect(log.every((line) => line.endsWith(' true'))).toBe(true);
      expect([...state.keys()].sort()).toEqual([
        'POST /api/saved_objects/index-pattern/pavemaster-logs?overwrite=true',
        'POST /api/saved_objects/search/pavemaster-errors-blue?overwrite=true',
        'POST /api/saved_objects/search/pavemaster-errors-green?overwrite=true',
      ]);
      const blue = JSON.parse(
        state.get('POST /api/saved_objects/search/pavemaster-errors-blue?overwrite=true') ?? '{}',
      ) as {
        attributes: { kibanaSavedObjectMeta: { searchSourceJSON: string } };
      };
      const source = JSON.parse(blue.attributes.kibanaSavedObjectMeta.searchSourceJSON) as {
        query: { query: string };
      };
      expect(source.query.query).toBe(errorQuery('blue'));
    });
  }, 60_000);

  it('fails before sending anything when a password a body needs is not set', async () => {
    const files = setupFiles(
      elasticsearchSetupRequests({
        retentionDays: 7,
        rolloverMaxAge: '1d',
        rolloverMaxPrimaryShardSize: '1gb',
        replicas: 1,
      }),
    );
    await withServer(async (url, state) => {
      const others: Record<string, string> = { ...passwords };
      delete others.READER_PASSWORD;
      await expect(runSetup(url, files, setupScript({ waitPath: '/' }), others)).rejects.toThrow(
        /06-reader-user.json needs READER_PASSWORD/,
      );
      expect([...state.keys()]).toEqual([
        `PUT /_ilm/policy/${NAMES.ilmPolicy}`,
        `PUT /_index_template/${NAMES.indexTemplate}`,
        `PUT /_security/role/${NAMES.writerRole}`,
        `PUT /_security/user/${NAMES.writerUser}`,
        `PUT /_security/role/${NAMES.readerRole}`,
      ]);
    });
  }, 60_000);

  it('refuses a password that is not alphanumeric instead of mangling it', async () => {
    const files = setupFiles(
      elasticsearchSetupRequests({
        retentionDays: 7,
        rolloverMaxAge: '1d',
        rolloverMaxPrimaryShardSize: '1gb',
        replicas: 1,
      }),
    );
    await withServer(async (url, state) => {
      await expect(
        runSetup(url, files, setupScript({ waitPath: '/' }), { ...passwords, WRITER_PASSWORD: 'a/b&c' }),
      ).rejects.toThrow(/letters and digits/);
      expect(state.size).toBe(0);
    });
  }, 60_000);

  it('stops at the first error response and fails the Job', async () => {
    const requests = elasticsearchSetupRequests({
      retentionDays: 7,
      rolloverMaxAge: '1d',
      rolloverMaxPrimaryShardSize: '1gb',
      replicas: 1,
    });
    const files = setupFiles(requests);
    await withServer(async (url, state) => {
      await expect(runSetup(url, files, setupScript({ waitPath: '/' }), passwords)).rejects.toThrow(
        /refused by the test/,
      );
      expect([...state.keys()]).toEqual([`PUT /_ilm/policy/${NAMES.ilmPolicy}`]);
    }, `PUT /_index_template/${NAMES.indexTemplate}`);
  }, 60_000);
});

describe('generated shell scripts', () => {
  it('pass shellcheck (POSIX sh)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scripts-'));
    try {
      const scripts = {
        'es-setup.sh': setupScript({ waitPath: '/_cluster/health?wait_for_status=yellow&timeout=5s' }),
        'kibana-setup.sh': setupScript({ waitPath: '/api/status', headers: ['kbn-xsrf: true'] }),
        'certs.sh': certificateScript({
          generation: 1,
          elasticsearchDnsNames: ['*.elasticsearch-headless', 'elasticsearch', 'localhost'],
          logstashDnsNames: ['logstash'],
          caNamespaces: ['logs', 'logs-node'],
          labels: { 'app.kubernetes.io/name': 'elasticsearch-certs' },
        }),
      };
      for (const [name, text] of Object.entries(scripts)) {
        fs.writeFileSync(path.join(dir, name), text);
      }
      // SC2016: the single-quoted awk program and curl -w formats are meant literally.
      const { stdout } = await run('shellcheck', [
        '-s',
        'sh',
        '-e',
        'SC2016',
        ...Object.keys(scripts).map((n) => path.join(dir, n)),
      ]);
      expect(stdout).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Filebeat configuration', () => {
  it('is valid YAML with a filestream input over the app namespaces, Kubernetes metadata and Logstash output', () => {
    const text = filebeatConfig({
      namespaces: ['pavemaster-staging'],
      logstashHosts: ['logstash.pavemaster-staging-logging.svc:5044'],
      caFile: CA_FILE,
    });
    const config = parseYaml(text) as Record<string, unknown>;
    const [input] = config['filebeat.inputs'] as Record<string, unknown>[];
    expect(input.type).toBe('filestream');
    expect(input.paths).toEqual(['/var/log/containers/*_pavemaster-staging_*.log']);
    expect(input.parsers).toEqual([{ container: { stream: 'all', format: 'auto' } }]);
    expect(JSON.stringify(input.processors)).toContain('"add_kubernetes_metadata"');
    expect(JSON.stringify(input.processors)).toContain('"host":"${NODE_NAME}"');
    expect(config['output.logstash']).toEqual({
      hosts: ['logstash.pavemaster-staging-logging.svc:5044'],
      loadbalance: true,
      ssl: { enabled: true, certificate_authorities: [CA_FILE], verification_mode: 'full' },
    });
    expect(() => filebeatConfig({ namespaces: [], logstashHosts: ['x:1'], caFile: CA_FILE })).toThrow();
  });
});

describe('Logstash pipeline to an external Elasticsearch (logging.elasticsearch.external)', () => {
  const external = (o: Parameters<typeof resolveExternalElasticsearch>[0]) =>
    logstashPipeline({
      ...outputOptions(resolveExternalElasticsearch(o), ''),
      dataStreamNamespace: 'staging',
      dropPaths: ['/healthz'],
      beatsCertificate: TLS_FILES.beatsCertificate,
      beatsKey: TLS_FILES.beatsKey,
    });
  const egress = [{ cidr: '203.0.113.0/24', ports: [9243] }];
  const API_KEY = external({
    hosts: ['https://logs.example.com:9243', 'https://logs-2.example.com:9243'],
    ca: { configMap: 'logs-ca' },
    credentials: { secret: 'logs-writer', type: 'apiKey' },
    egress,
    dataStream: { dataset: 'pavemaster.app' },
  });
  const BASIC_SYSTEM = external({
    hosts: ['https://abc123.es.example.cloud:443'],
    ca: { systemTrustStore: true },
    credentials: { secret: 'logs-writer', type: 'basic' },
    egress,
  });

  /** The elasticsearch output's options, as the grammar parses them. */
  async function outputParams(text: string): Promise<Record<string, unknown>> {
    const ast = (await parsePipeline(text)) as [string, [string, [string, unknown][]][]][];
    const [, outputs] = ast[2];
    expect(outputs[0][0]).toBe('elasticsearch');
    return Object.fromEntries(outputs[0][1]);
  }

  it("parses with Logstash's grammar and uses only options the output accepts in data-stream mode", async () => {
    // api_key is a connection setting too (the plugin's shared API configs), allowed with data_stream => true.
    const connection = [
      'hosts',
      'user',
      'password',
      'api_key',
      'ssl_enabled',
      'ssl_verification_mode',
      'ssl_certificate_authorities',
    ];
    for (const text of [API_KEY, BASIC_SYSTEM]) {
      const params = await outputParams(text);
      for (const name of Object.keys(params)) {
        expect(name === 'id' || connection.includes(name) || name.startsWith('data_stream')).toBe(true);
      }
      expect(params.data_stream).toEqual(['true']);
      expect(params.ssl_enabled).toEqual([true]);
      expect(params.ssl_verification_mode).toEqual(['full']);
    }
  }, 60_000);

  it('an API key and the mounted CA; every host; the configured dataset', async () => {
    const params = await outputParams(API_KEY);
    expect(params.hosts).toEqual([['https://logs.example.com:9243', 'https://logs-2.example.com:9243']]);
    expect(params.api_key).toEqual(['${ES_API_KEY}']);
    expect(params.user).toBeUndefined();
    expect(params.password).toBeUndefined();
    expect(params.ssl_certificate_authorities).toEqual([[EXTERNAL_CA_FILE]]);
    expect(params.data_stream_dataset).toEqual(['pavemaster.app']);
    expect(params.data_stream_namespace).toEqual(['staging']);
  }, 60_000);

  it('a user and password with the system trust store: no CA file, still full verification', async () => {
    const params = await outputParams(BASIC_SYSTEM);
    expect(params.user).toEqual(['${ES_USER}']);
    expect(params.password).toEqual(['${ES_PASSWORD}']);
    expect(params.api_key).toBeUndefined();
    expect(params.ssl_certificate_authorities).toBeUndefined();
    expect(params.data_stream_dataset).toEqual(['pavemaster']);
  }, 60_000);
});
