import { goodContainer, goodPodSpec, validateResource, workloadResource, messages } from '../test/fakes';
import { configEntryProblem, secretsPolicy } from './secrets';

function withEnv(env: Record<string, unknown>[]) {
  return workloadResource('Deployment', goodPodSpec({ containers: [{ ...goodContainer(), env }] }));
}

function configMap(data: Record<string, string>) {
  return {
    type: 'kubernetes:core/v1:ConfigMap',
    name: 'cm',
    props: { metadata: { name: 'cm', namespace: 'apps' }, data },
  };
}

describe('no-plaintext-secrets', () => {
  it('passes secret-named env vars taken from Secrets and file references', async () => {
    const env = [
      { name: 'LOG_FORMAT', value: 'json' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'GF_SECURITY_ADMIN_PASSWORD__FILE', value: '/etc/secrets/admin-password' },
      { name: 'xpack.security.transport.ssl.key', value: 'certs/node.key' },
    ];
    expect(await validateResource(secretsPolicy, withEnv(env))).toEqual([]);
  });

  it.each(['DB_PASSWORD', 'api_token', 'CLIENT_SECRET', 'SIGNING_KEY', 'AWS_CREDENTIALS', 'PASSWORD_FILE'])(
    'refuses %s with a plain value',
    async (name) => {
      expect(messages(await validateResource(secretsPolicy, withEnv([{ name, value: 'hunter2' }])))).toEqual([
        expect.stringContaining(`env ${name} looks like a secret`),
      ]);
    },
  );

  it('passes ConfigMaps of configuration with placeholders and references', async () => {
    const data = {
      'prometheus.yml': 'scrape_configs:\n  - job_name: x\n    bearer_token_file: /var/run/token\n',
      'grafana.ini':
        '[security]\nadmin_user = admin\nadmin_password = $__file{/etc/secrets/admin-password}\n',
      'kibana.yml': 'elasticsearch.password: "${ELASTICSEARCH_PASSWORD}"\nsecretName: kibana-tls\n',
      'alert.rules': 'expr: auth_token_expired == 1\n',
      'user.json': '{ "password": "@@WRITER_PASSWORD@@" }',
      'kibana-system-password.json': '{\n  "password": "@@KIBANA_SYSTEM_PASSWORD@@"\n}',
      'setup.sh': ': "${SETUP_PASSWORD:?}"\nprintf "%s" "$SETUP_PASSWORD"\n',
      'logstash.conf': 'output { elasticsearch { password => "${ES_PASSWORD}" } }',
      'filebeat.yml': 'output.logstash:\n  hosts: ["logstash.pm-secrets-it-logging.svc:5044"]\n',
      'datasources.yml': 'url: http://prometheus.pm-secrets-it-monitoring.svc:9090\n',
    };
    expect(await validateResource(secretsPolicy, configMap(data))).toEqual([]);
  });

  it.each([
    ['a secret-named key', { password: 'x' }, 'named like a secret'],
    ['a private key file', { 'tls.key': 'x' }, 'private key material'],
    [
      'a literal password assignment',
      { 'app.ini': 'user = a\npassword = hunter2\n' },
      'sets password to a literal',
    ],
    ['a secret-named file with one value', { 'db-password.txt': 'hunter2' }, 'holds a plain value'],
    ['an all-digit password', { 'app.yml': 'password: 12345678' }, 'sets password to a literal'],
    ['a logstash literal', { 'l.conf': 'password => "hunter2"' }, 'sets password to a literal'],
    ['a JSON api key', { 'c.json': '{"apiKey": "abcdef123"}' }, 'sets apiKey to a literal'],
    ['a private key', { 'x.txt': '-----BEGIN RSA PRIVATE KEY-----\nMII' }, 'holds a private key'],
    [
      'a Slack webhook',
      { 'am.yml': 'slack_api_url: https://hooks.slack.com/services/T0/B0/xyz' },
      'Slack webhook',
    ],
    [
      'credentials in a URL',
      { 'db.conf': 'url: postgres://app:hunter2@db:5432/app' },
      'credentials in a URL',
    ],
  ])('refuses a ConfigMap with %s', async (_what, data, expected) => {
    expect(messages(await validateResource(secretsPolicy, configMap(data)))).toEqual([
      expect.stringContaining(expected),
    ]);
  });

  it('treats empty and boolean values as no secret', () => {
    expect(configEntryProblem('x.yml', 'password: ""\ntoken_auth: false\n')).toBeUndefined();
  });
});
