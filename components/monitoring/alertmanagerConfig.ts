/**
 * The Alertmanager configuration as typed objects: routing by environment and severity, grouping, inhibition
 * (a critical alert silences the warnings of the same alertname and namespace), and the email and Slack
 * receivers. Credentials never appear in it: the SMTP password and the Slack webhook URL are files mounted from a
 * Kubernetes Secret (`auth_password_file`, `api_url_file`). The tests check it with `amtool check-config`, test
 * every route with `amtool config routes test`, and deliver a real alert through the real binary.
 */
import { Severity, SEVERITIES } from './rules';

/** Alertmanager's TLS settings of a receiver's connection. */
export interface TlsConfig {
  /** The CA certificates the server's certificate must chain to (instead of the image's system CAs). */
  ca_file: string;
}

export interface EmailConfig {
  to: string;
  from: string;
  smarthost: string;
  auth_username?: string;
  auth_password_file?: string;
  require_tls: boolean;
  send_resolved: boolean;
  headers?: Record<string, string>;
  tls_config?: TlsConfig;
}

export interface SlackConfig {
  api_url_file: string;
  channel: string;
  send_resolved: boolean;
  title: string;
  text: string;
  http_config?: { tls_config: TlsConfig };
}

export interface Receiver {
  name: string;
  email_configs?: EmailConfig[];
  slack_configs?: SlackConfig[];
}

export interface Route {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  continue?: boolean;
  routes?: Route[];
}

export interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}

export interface AlertmanagerConfig {
  route: Route;
  receivers: Receiver[];
  inhibit_rules: InhibitRule[];
}

/** Email notifications (`pavemaster:monitoring.alerting.email`). */
export interface EmailOptions {
  /** Send email at all (also needs the SMTP password when `username` is set). @default false */
  readonly enabled: boolean;
  /** Recipients. Required when enabled. */
  readonly to: readonly string[];
  /** Sender address. Required when enabled. */
  readonly from: string;
  /** The SMTP server, "host:port". Required when enabled. */
  readonly smarthost: string;
  /** SMTP user name; unset means no SMTP authentication (and no password needed). @default none */
  readonly username?: string;
  /** Require STARTTLS. @default true */
  readonly requireTls: boolean;
  /** Severities that are emailed. @default critical (staging), critical and warning (production) */
  readonly severities: readonly Severity[];
}

/** Slack notifications (`pavemaster:monitoring.alerting.slack`). */
export interface SlackOptions {
  /** Post to Slack at all (also needs the webhook URL). @default true */
  readonly enabled: boolean;
  /** The channel of each severity; a severity without channel is not posted. @default #pavemaster-<environment>-<severity> for critical and warning */
  readonly channels: Partial<Record<Severity, string>>;
}

/** What the configuration is built from. */
export interface AlertmanagerConfigArgs {
  /** The environment: alerts of this environment (the `environment` label) are routed per severity. */
  environment: string;
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  /** Email, when it is configured and its password (if any) is known; the password is a mounted file. */
  email?: Omit<EmailOptions, 'enabled'> & { passwordFile?: string };
  /** The mounted CA file both receivers verify their server against (`alerting.caPem`). @default the system CAs */
  caFile?: string;
  /** Slack, when it is configured and its webhook URL is known. */
  slack?: {
    /** The mounted webhook URL file. */
    apiUrlFile: string;
    channels: Partial<Record<Severity, string>>;
  };
}

/** The receiver name of a severity in an environment, e.g. "production-critical". */
export function receiverName(environment: string, severity: Severity): string {
  return `${environment}-${severity}`;
}

/** The receiver of alerts that match no route: they are still delivered to the warning receivers. */
export const FALLBACK_RECEIVER = 'fallback';

const SLACK_TITLE =
  '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})';
const SLACK_TEXT =
  '{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}';

function receiver(args: AlertmanagerConfigArgs, name: string, severity: Severity): Receiver {
  const out: Receiver = { name };
  const tlsConfig: TlsConfig | undefined = args.caFile !== undefined ? { ca_file: args.caFile } : undefined;
  const email = args.email;
  if (email !== undefined && email.severities.includes(severity)) {
    out.email_configs = email.to.map((to) => ({
      to,
      from: email.from,
      smarthost: email.smarthost,
      ...(email.username !== undefined
        ? { auth_username: email.username, auth_password_file: email.passwordFile }
        : {}),
      require_tls: email.requireTls,
      send_resolved: true,
      headers: { Subject: `[${args.environment}] {{ template "email.default.subject" . }}` },
      ...(tlsConfig !== undefined ? { tls_config: tlsConfig } : {}),
    }));
  }
  const channel = args.slack?.channels[severity];
  if (args.slack !== undefined && channel !== undefined) {
    out.slack_configs = [
      {
        api_url_file: args.slack.apiUrlFile,
        channel,
        send_resolved: true,
        title: SLACK_TITLE,
        text: SLACK_TEXT,
        ...(tlsConfig !== undefined ? { http_config: { tls_config: tlsConfig } } : {}),
      },
    ];
  }
  return out;
}

/** Builds the configuration. */
export function alertmanagerConfig(args: AlertmanagerConfigArgs): AlertmanagerConfig {
  if (args.email?.username !== undefined && args.email.passwordFile === undefined) {
    throw new Error('alertmanagerConfig: email.username needs email.passwordFile');
  }
  const receivers: Receiver[] = SEVERITIES.map((s) => receiver(args, receiverName(args.environment, s), s));
  receivers.push(receiver(args, FALLBACK_RECEIVER, 'warning'));
  return {
    route: {
      receiver: FALLBACK_RECEIVER,
      group_by: ['alertname', 'namespace'],
      group_wait: args.groupWait,
      group_interval: args.groupInterval,
      repeat_interval: args.repeatInterval,
      routes: [
        {
          matchers: [`environment="${args.environment}"`],
          routes: SEVERITIES.map((s) => ({
            receiver: receiverName(args.environment, s),
            matchers: [`severity="${s}"`],
          })),
        },
      ],
    },
    receivers,
    inhibit_rules: [
      {
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['alertname', 'namespace'],
      },
    ],
  };
}
