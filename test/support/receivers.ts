/**
 * The e-mail receiver the tests configure for Alertmanager (`pavemaster:monitoring.alerting.email`): one value, so
 * the render cases, the monitoring tests and the real-amtool checks describe the same receiver.
 */
export const EMAIL_RECEIVER = {
  enabled: true,
  to: ['oncall@pavemaster.example'],
  from: 'alerts@pavemaster.example',
  smarthost: 'smtp.pavemaster.example:587',
  username: 'alerts',
} as const;
