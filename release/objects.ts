/** The Kubernetes objects the release command reads, as far as it reads them (kubectl's JSON). */

export interface ServiceLike {
  metadata: { name: string };
  spec?: { selector?: Record<string, string> };
}

export interface PodObject {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string; containers?: { name: string; image?: string }[] };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      state?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
    }[];
  };
}

export interface DeploymentObject {
  metadata: {
    name: string;
    generation?: number;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: { replicas?: number; template?: { spec?: { containers?: { name: string; image?: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface EndpointSliceObject {
  metadata?: { name: string };
  endpoints?: {
    conditions?: { ready?: boolean; terminating?: boolean };
    targetRef?: { kind?: string; name?: string };
  }[];
}

export interface JobObject {
  metadata: { name: string };
  status?: {
    succeeded?: number;
    failed?: number;
    active?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}
