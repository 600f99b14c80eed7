/**
 * A rotated receiver credential rolls Alertmanager: its StatefulSet names the Secret `alertmanager-secrets` by
 * its known name, so only a changed pod template rolls the pods, and the template carries a keyed checksum of the
 * Secret's values (components/shared/secretChecksum.ts, the app's env Secret's pattern). The config checksum
 * covers the key names only: before, a new Slack webhook URL or SMTP password changed nothing but the Secret.
 */
import { SECRETS_CHECKSUM_ANNOTATION } from '../../../components/monitoring/Alertmanager';
import { at, isSecret, Registered, recordStack } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';
import { EMAIL_RECEIVER } from '../../support/receivers';

const STATEFULSET = 'kubernetes:apps/v1:StatefulSet';
const SLACK = 'https://hooks.slack.example/services/T000/B000/unit-test-rotation-';

function receivers(slack: string, smtpPassword: string): Record<string, unknown> {
  return {
    slackWebhookUrl: slack,
    smtpPassword,
    monitoring: {
      alerting: {
        email: EMAIL_RECEIVER,
      },
    },
  };
}

async function alertmanager(overrides: Record<string, unknown>): Promise<Registered> {
  const { resources } = await recordStack('staging', stackConfig('staging', overrides));
  const found = resources.find(
    (r) => r.type === STATEFULSET && at(r.inputs, 'metadata.name') === 'alertmanager',
  );
  if (found === undefined) {
    throw new Error('no Alertmanager StatefulSet');
  }
  return found;
}

const annotations = (r: Registered) =>
  at(r.inputs, 'spec.template.metadata.annotations') as Record<string, unknown>;

describe("Alertmanager's pod template and its Secret's values", () => {
  it('changes with a rotated Slack webhook or SMTP password, and only in the secrets checksum', async () => {
    const before = await alertmanager(receivers(`${SLACK}1`, 'unit-smtp-password-1'));
    const slackRotated = await alertmanager(receivers(`${SLACK}2`, 'unit-smtp-password-1'));
    const smtpRotated = await alertmanager(receivers(`${SLACK}1`, 'unit-smtp-password-2'));
    const sum = annotations(before)[SECRETS_CHECKSUM_ANNOTATION];
    expect(sum).toMatch(/^[0-9a-f]{64}$/);
    for (const after of [slackRotated, smtpRotated]) {
      expect(annotations(after)[SECRETS_CHECKSUM_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
      expect(annotations(after)[SECRETS_CHECKSUM_ANNOTATION]).not.toBe(sum);
      // Nothing else of the StatefulSet changes: the pods roll, nothing is replaced.
      expect({
        ...after.inputs,
        spec: { ...(after.inputs.spec as object), template: undefined },
      }).toEqual({ ...before.inputs, spec: { ...(before.inputs.spec as object), template: undefined } });
      expect({ ...annotations(after), [SECRETS_CHECKSUM_ANNOTATION]: sum }).toEqual(annotations(before));
    }
    expect(annotations(slackRotated)[SECRETS_CHECKSUM_ANNOTATION]).not.toBe(
      annotations(smtpRotated)[SECRETS_CHECKSUM_ANNOTATION],
    );
  });

  it('stays identical when the values do not change', async () => {
    const a = await alertmanager(receivers(`${SLACK}1`, 'unit-smtp-password-1'));
    const b = await alertmanager(receivers(`${SLACK}1`, 'unit-smtp-password-1'));
    expect(b.inputs).toEqual(a.inputs);
  });

  it('is keyed and plain: no hash of a value in sight, the spec readable in previews', async () => {
    const { createHash } = await import('crypto');
    const r = await alertmanager(receivers(`${SLACK}1`, 'unit-smtp-password-1'));
    expect(isSecret(at(r.inputs, 'spec'))).toBe(false);
    expect(isSecret(annotations(r)[SECRETS_CHECKSUM_ANNOTATION])).toBe(false);
    const text = JSON.stringify(r.inputs);
    for (const value of [`${SLACK}1`, 'unit-smtp-password-1']) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(createHash('sha256').update(value).digest('hex'));
    }
  });

  it('carries no secrets checksum when no receiver has a credential', async () => {
    const r = await alertmanager({});
    expect(annotations(r)).not.toHaveProperty([SECRETS_CHECKSUM_ANNOTATION]);
  });
});
