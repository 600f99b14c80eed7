/**
 * The unit tests' environment: the program under Pulumi's mocks checks the stack's cluster against a kubeconfig
 * (infra/cluster.ts), so it gets a fixed one naming the local cluster's context and cluster, never the
 * machine's (the harnesses pin it around each program load too: test/support/kubeconfig.ts). Tests that run
 * real tools source scripts/env.sh, which sets its own KUBECONFIG.
 */
import { MOCK_KUBECONFIG } from './kubeconfig';

process.env.KUBECONFIG = MOCK_KUBECONFIG;
