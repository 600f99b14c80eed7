/**
 * What the setup Jobs send to Elasticsearch and Kibana, as data: the ILM policy, the index template, the roles
 * and users, the Kibana data view and saved searches. Every request is a PUT of a fixed name (or a POST that
 * sets a fixed value, e.g. a password, or Kibana's saved objects API with `overwrite=true`), so re-running a Job
 * converges on the same state and changes nothing. The request bodies are typed with the official Elasticsearch
 * client's request types (generated from the Elasticsearch API specification), so `tsc` rejects a misspelled or
 * misplaced key.
 *
 * Passwords never appear in these bodies: they hold `${NAME}` placeholders that the Job's script fills at run time,
 * into a memory-backed scratch directory, from the files of the mounted Secrets (`$SECRETS/<NAME>`; the pod's
 * environment holds no secret).
 */
import type { estypes } from '@elastic/elasticsearch';
import { SLOTS } from '../shared/slots';
import { LOG_INDEX_PATTERN, NAMES } from './defaults';

/** One HTTP request of a setup Job. */
export interface SetupRequest {
  /** The file name of the body in the Job's ConfigMap (also the order requests are sent in). */
  file: string;
  method: 'PUT' | 'POST';
  /** The path and query, e.g. `/_ilm/policy/pavemaster-logs`. */
  path: string;
  /** The JSON body; strings may hold `${PLACEHOLDER}`s for secret values. */
  body: object;
}

/** The placeholders a body may hold, and the environment variable that fills each. */
export const PLACEHOLDERS = {
  WRITER_PASSWORD: 'WRITER_PASSWORD',
  READER_PASSWORD: 'READER_PASSWORD',
  EXPORTER_PASSWORD: 'EXPORTER_PASSWORD',
  KIBANA_SYSTEM_PASSWORD: 'KIBANA_SYSTEM_PASSWORD',
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

const placeholder = (name: Placeholder): string => `\${${name}}`;

type IlmPolicyBody = Omit<estypes.IlmPutLifecycleRequest, 'name' | 'master_timeout' | 'timeout'>;
type IndexTemplateBody = Omit<
  estypes.IndicesPutIndexTemplateRequest,
  'name' | 'create' | 'master_timeout' | 'cause'
>;
type RoleBody = Omit<estypes.SecurityPutRoleRequest, 'name' | 'refresh'>;
type UserBody = Omit<estypes.SecurityPutUserRequest, 'username' | 'refresh'>;
type PasswordBody = Omit<estypes.SecurityChangePasswordRequest, 'username' | 'refresh'>;

/** Index lifecycle options. */
export interface LifecycleOptions {
  /** Days after rollover before an index is deleted. */
  retentionDays: number;
  /** Roll over the write index at this age ("1d"). */
  rolloverMaxAge: string;
  /** ... or when a primary shard reaches this size ("10gb"). */
  rolloverMaxPrimaryShardSize: string;
}

/** The ILM policy: roll over in the hot phase, delete `retentionDays` after rollover. */
export function ilmPolicy(opts: LifecycleOptions): IlmPolicyBody {
  if (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1) {
    throw new Error(`retentionDays ${opts.retentionDays} is not a whole number of at least 1`);
  }
  return {
    policy: {
      _meta: { managed_by: 'pavemaster', description: `PaveMaster logs, kept ${opts.retentionDays} days` },
      phases: {
        hot: {
          min_age: '0ms',
          actions: {
            rollover: {
              max_age: opts.rolloverMaxAge,
              max_primary_shard_size: opts.rolloverMaxPrimaryShardSize,
            },
            set_priority: { priority: 100 },
          },
        },
        delete: {
          min_age: `${opts.retentionDays}d`,
          actions: { delete: {} },
        },
      },
    },
  };
}

/** The fields of a PaveMaster log event, as the index template maps them. */
export const LOG_FIELDS = [
  'slot',
  'version',
  'pod',
  'namespace',
  'container',
  'app',
  'node',
  'level',
] as const;

/**
 * The composable index template of the app's logs: a data stream per environment (`logs-pavemaster-<env>`),
 * managed by the ILM policy, with explicit mappings for the fields Logstash sets. Other fields are kept in
 * `_source` without being indexed (`dynamic: false`), and the parsed JSON line lives in a `flattened` field, so an
 * app that logs new keys cannot explode the mapping. Priority 200 beats Elasticsearch's built-in `logs-*-*`
 * template (priority 100).
 */
export function indexTemplate(opts: { replicas: number }): IndexTemplateBody {
  const keyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 };
  const properties: Record<string, estypes.MappingProperty> = {
    '@timestamp': { type: 'date' },
    message: { type: 'match_only_text' },
    json: { type: 'flattened' },
    stream: { type: 'keyword' },
    tags: { type: 'keyword' },
  };
  for (const field of LOG_FIELDS) {
    properties[field] = keyword;
  }
  return {
    index_patterns: [LOG_INDEX_PATTERN],
    data_stream: {},
    priority: 200,
    _meta: { managed_by: 'pavemaster' },
    template: {
      settings: {
        index: {
          lifecycle: { name: NAMES.ilmPolicy },
          number_of_shards: 1,
          number_of_replicas: opts.replicas > 1 ? 1 : 0,
        },
      },
      mappings: {
        dynamic: false,
        properties,
      },
    },
  };
}

/** The Elasticsearch requests of the setup Job, in order. */
export function elasticsearchSetupRequests(opts: LifecycleOptions & { replicas: number }): SetupRequest[] {
  const writerRole: RoleBody = {
    description: 'Logstash: writes the PaveMaster log data streams',
    cluster: ['monitor'],
    indices: [
      { names: [LOG_INDEX_PATTERN], privileges: ['create_doc', 'auto_configure', 'view_index_metadata'] },
    ],
  };
  const readerRole: RoleBody = {
    description: 'Read-only access to the PaveMaster logs (Grafana datasource)',
    cluster: ['monitor'],
    indices: [{ names: [LOG_INDEX_PATTERN], privileges: ['read', 'view_index_metadata'] }],
  };
  const exporterRole: RoleBody = {
    description: 'Prometheus elasticsearch-exporter: cluster and index statistics',
    cluster: ['monitor'],
    indices: [{ names: ['*'], privileges: ['monitor'], allow_restricted_indices: false }],
  };
  const user = (role: string, password: Placeholder, fullName: string): UserBody => ({
    password: placeholder(password),
    roles: [role],
    full_name: fullName,
    enabled: true,
  });
  const kibanaPassword: PasswordBody = { password: placeholder('KIBANA_SYSTEM_PASSWORD') };
  return [
    {
      file: '01-ilm-policy.json',
      method: 'PUT',
      path: `/_ilm/policy/${NAMES.ilmPolicy}`,
      body: ilmPolicy(opts),
    },
    {
      file: '02-index-template.json',
      method: 'PUT',
      path: `/_index_template/${NAMES.indexTemplate}`,
      body: indexTemplate(opts),
    },
    {
      file: '03-writer-role.json',
      method: 'PUT',
      path: `/_security/role/${NAMES.writerRole}`,
      body: writerRole,
    },
    {
      file: '04-writer-user.json',
      method: 'PUT',
      path: `/_security/user/${NAMES.writerUser}`,
      body: user(NAMES.writerRole, 'WRITER_PASSWORD', 'Logstash writer'),
    },
    {
      file: '05-reader-role.json',
      method: 'PUT',
      path: `/_security/role/${NAMES.readerRole}`,
      body: readerRole,
    },
    {
      file: '06-reader-user.json',
      method: 'PUT',
      path: `/_security/user/${NAMES.readerUser}`,
      body: user(NAMES.readerRole, 'READER_PASSWORD', 'Grafana logs reader'),
    },
    {
      file: '07-exporter-role.json',
      method: 'PUT',
      path: `/_security/role/${NAMES.exporterRole}`,
      body: exporterRole,
    },
    {
      file: '08-exporter-user.json',
      method: 'PUT',
      path: `/_security/user/${NAMES.exporterUser}`,
      body: user(NAMES.exporterRole, 'EXPORTER_PASSWORD', 'Prometheus exporter'),
    },
    // Setting a built-in user's password is a POST, but it sets a fixed value: repeating it changes nothing.
    {
      file: '09-kibana-system-user.json',
      method: 'POST',
      path: `/_security/user/${NAMES.kibanaSystemUser}/_password`,
      body: kibanaPassword,
    },
  ];
}

/** The KQL query of a slot's error search. */
export function errorQuery(slot: string): string {
  return `slot:"${slot}" and level:("error" or "fatal")`;
}

/** The Kibana requests of the setup Job: the data view, then one saved error search per slot (each of SLOTS). */
export function kibanaSetupRequests(): SetupRequest[] {
  const dataView = {
    attributes: { title: LOG_INDEX_PATTERN, name: 'PaveMaster logs', timeFieldName: '@timestamp' },
  };
  const searches = SLOTS.map((slot, i) => ({
    file: `${String(i + 2).padStart(2, '0')}-errors-${slot}.json`,
    method: 'POST' as const,
    path: `/api/saved_objects/search/pavemaster-errors-${slot}?overwrite=true`,
    body: {
      attributes: {
        title: `PaveMaster errors (${slot} slot)`,
        description: `Error and fatal log lines of the ${slot} slot`,
        columns: ['version', 'pod', 'level', 'message'],
        sort: [['@timestamp', 'desc']],
        kibanaSavedObjectMeta: {
          searchSourceJSON: JSON.stringify({
            query: { query: errorQuery(slot), language: 'kuery' },
            filter: [],
            indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index',
          }),
        },
      },
      references: [
        { name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern', id: NAMES.dataView },
      ],
    },
  }));
  return [
    {
      file: '01-data-view.json',
      method: 'POST',
      path: `/api/saved_objects/index-pattern/${NAMES.dataView}?overwrite=true`,
      body: dataView,
    },
    ...searches,
  ];
}

/** The files of a setup Job's ConfigMap: one JSON body per request and the list of requests. */
export function setupFiles(requests: readonly SetupRequest[]): Record<string, string> {
  const files: Record<string, string> = {};
  const lines: string[] = [];
  for (const r of requests) {
    if (!/^[0-9a-z][-0-9a-z.]*\.json$/.test(r.file) || r.file in files) {
      throw new Error(`setup request file "${r.file}" is not a unique simple file name`);
    }
    if (!/^\/[\x21-\x7e]*$/.test(r.path) || r.path.includes("'")) {
      throw new Error(`setup request path "${r.path}" is not a plain absolute path`);
    }
    files[r.file] = `${JSON.stringify(r.body, null, 2)}\n`;
    lines.push(`${r.method} ${r.path} ${r.file}`);
  }
  files['requests.txt'] = `${lines.join('\n')}\n`;
  return files;
}

/**
 * The POSIX shell script of a setup Job. It waits for its target (up to `waitSeconds`), then sends each request
 * of `requests.txt` with its body file, placeholders filled from the secret files (`$SECRETS/<NAME>`; a variable of
 * that name, when set, wins), and fails on the first
 * response that is not 2xx. Credentials go to curl through a config file in the scratch directory, never on its
 * command line.
 */
export function setupScript(opts: {
  /** The path polled until it answers 200, e.g. `/_cluster/health?wait_for_status=yellow&timeout=5s`. */
  waitPath: string;
  /** Extra request headers, e.g. `kbn-xsrf: true` for Kibana. */
  headers?: string[];
  /** How long to wait for the target. */
  waitSeconds?: number;
}): string {
  const headers = (opts.headers ?? []).map((h) => ` -H '${h}'`).join('');
  const waitSeconds = opts.waitSeconds ?? 600;
  const names = Object.values(PLACEHOLDERS);
  // awk reads the values from its environment, so no password appears on a command line; it replaces the
  // placeholders as plain text (index/substr), so no character of a value has a special meaning.
  const substitutions = names.map((p) => `$0 = fill($0, "\${${p}}", ENVIRON["${p}"]);`).join(' ');
  const fill =
    'function fill(s, from, to,   i, out) { out = ""; while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) } return out s }';
  return `#!/bin/sh
# Generated by the PaveMaster logging component: applies fixed-name objects idempotently.
set -eu
# Secrets come as files of mounted Secrets ($SECRETS/<NAME>), not as environment variables of the pod: a value is
# read from its file unless the variable is already set (a test runs the script with variables).
SECRETS="\${SECRETS:-/secrets}"
for name in SETUP_PASSWORD ${names.join(' ')}; do
  eval "v=\\\${$name:-}"
  if [ -z "$v" ] && [ -r "$SECRETS/$name" ]; then
    v=$(cat "$SECRETS/$name")
    eval "$name=\\$v"
    eval "export $name"
  fi
done
for name in TARGET_URL SETUP_USER SETUP_PASSWORD; do
  eval "v=\\\${$name:-}"
  if [ -z "$v" ]; then echo "$name must be set" >&2; exit 1; fi
done
BODIES="\${BODIES:-/setup}"
SCRATCH="\${SCRATCH:-/scratch}"
umask 077
# Generated passwords are alphanumeric; refuse anything else rather than mangle it in awk or JSON.
for name in SETUP_PASSWORD ${names.join(' ')}; do
  eval "v=\\\${$name:-}"
  case "$v" in *[!A-Za-z0-9]*) echo "$name holds characters other than letters and digits" >&2; exit 1 ;; esac
done
printf 'user = "%s:%s"\\n' "$SETUP_USER" "$SETUP_PASSWORD" > "$SCRATCH/curlrc"
# An https target is verified with the trust bundle CA_FILE names (the certificate Job's); curl refuses a server
# whose certificate it does not sign or whose names do not include the target's host.
if [ -n "\${CA_FILE:-}" ]; then printf 'cacert = "%s"\\n' "$CA_FILE" >> "$SCRATCH/curlrc"; fi
case "$TARGET_URL" in
  https://*) [ -n "\${CA_FILE:-}" ] || { echo "TARGET_URL is https: CA_FILE must name the CA" >&2; exit 1; } ;;
esac
waited=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' -K "$SCRATCH/curlrc"${headers} "$TARGET_URL${opts.waitPath}" || true)" = 200 ]; do
  if [ "$waited" -ge ${waitSeconds} ]; then echo "$TARGET_URL did not become ready in ${waitSeconds}s" >&2; exit 1; fi
  sleep 5
  waited=$((waited + 5))
done
while read -r method path file; do
  [ -n "$method" ] || continue
  for name in ${names.join(' ')}; do
    eval "v=\\\${$name:-}"
    if [ -z "$v" ] && grep -qF "\\\${$name}" "$BODIES/$file"; then echo "$file needs $name, which is not set" >&2; exit 1; fi
  done
  awk '${fill} { ${substitutions} print }' "$BODIES/$file" > "$SCRATCH/body.json"
  code=$(curl -sS -o "$SCRATCH/response" -w '%{http_code}' -K "$SCRATCH/curlrc" -X "$method"${headers} \\
    -H 'Content-Type: application/json' --data-binary "@$SCRATCH/body.json" "$TARGET_URL$path")
  rm -f "$SCRATCH/body.json"
  case "$code" in
    2??) echo "$method $path: $code" ;;
    *) echo "$method $path failed with $code:" >&2; cat "$SCRATCH/response" >&2; exit 1 ;;
  esac
done < "$BODIES/requests.txt"
echo "setup complete"
`;
}
