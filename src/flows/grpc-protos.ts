// Protobuf definitions of ONLY the messages `flows` reads from Tetragon's and Hubble's gRPC APIs.
// Field numbers and enum values are identical to upstream; fields we never read are left out
// (protobuf skips unknown fields), so a newer agent stays compatible.
//
// Upstream sources (read through the code search index):
//   cilium/tetragon api/v1/tetragon/events.proto @ 019e822986396a1bda4c12acfa4a5514382f59d0
//     (EventType, Filter, FieldFilter, FieldFilterAction, GetEventsRequest, GetEventsResponse)
//   cilium/tetragon api/v1/tetragon/tetragon.proto @ 04c27f50f91c2926d9536d21691851c9ab7192cf
//     (Process, Pod, Container, ProcessKprobe, KprobeArgument, KprobeSock, KprobeSkb, KprobeAction)
//     and @ 15041bef1c0115fa2aa361d0442c490ef28e2460 (service FineGuidanceSensors, GetEvents)
//     Pod.workload = 6 / workload_kind = 7 are newer than both commits (Tetragon ≥ 1.0).
//   cilium/cilium api/v1/observer/observer.proto @ 25972d8e8c67dd3a4d74c2dbea54461fa7f20707
//     (service Observer, GetFlowsRequest, GetFlowsResponse)
//   cilium/cilium api/v1/flow/flow.proto @ 04bbfcb5ddb0c31cd0f130cb4e1f0f5e6e6ec768
//     (Flow, Endpoint, Workload, IP, Layer4, TCP, UDP, SCTP, ICMPv4/6, TCPFlags, Layer7, DNS,
//     HTTP, Service, FlowFilter, LostEvent, Verdict, TrafficDirection, L7FlowType, DropReason …)
//     Flow.egress_denied_by = 21004 / ingress_denied_by = 21005 and message Policy (Cilium ≥ 1.16)
//     are newer than that commit; their numbers are from a transcription of the newer file, not
//     checked against cilium's own repository (see docs/flows.md).

const WELL_KNOWN = `
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message BoolValue { bool value = 1; }
message UInt32Value { uint32 value = 1; }
message FieldMask { repeated string paths = 1; }
`;

export const TETRAGON_PROTO = `
syntax = "proto3";
package tetragon;

enum EventType {
  UNDEF = 0;
  PROCESS_EXEC = 1;
  PROCESS_EXIT = 5;
  PROCESS_KPROBE = 9;
  PROCESS_TRACEPOINT = 10;
}

message Filter {
  repeated string namespace = 2;
  repeated EventType event_set = 6;
}

enum FieldFilterAction { INCLUDE = 0; EXCLUDE = 1; }

message FieldFilter {
  repeated EventType event_set = 1;
  google.protobuf.FieldMask fields = 2;
  FieldFilterAction action = 3;
}

message GetEventsRequest {
  repeated Filter allow_list = 1;
  repeated Filter deny_list = 2;
  repeated FieldFilter field_filters = 4;
}

message Container { string id = 1; string name = 2; }

message Pod {
  string namespace = 1;
  string name = 2;
  Container container = 4;
  map<string, string> pod_labels = 5;
  string workload = 6;
  string workload_kind = 7;
}

message Process {
  string exec_id = 1;
  google.protobuf.UInt32Value pid = 2;
  string binary = 5;
  Pod pod = 10;
}

message KprobeSock {
  string family = 1;
  string type = 2;
  string protocol = 3;
  uint32 mark = 4;
  uint32 priority = 5;
  string saddr = 6;
  string daddr = 7;
  uint32 sport = 8;
  uint32 dport = 9;
}

message KprobeSkb {
  uint32 hash = 1;
  uint32 len = 2;
  uint32 priority = 3;
  uint32 mark = 4;
  string saddr = 5;
  string daddr = 6;
  uint32 sport = 7;
  uint32 dport = 8;
  uint32 proto = 9;
}

message KprobeArgument {
  oneof arg {
    string string_arg = 1;
    int32 int_arg = 2;
    KprobeSkb skb_arg = 3;
    uint64 size_arg = 4;
    KprobeSock sock_arg = 9;
    int64 long_arg = 11;
  }
}

enum KprobeAction {
  KPROBE_ACTION_UNKNOWN = 0;
  KPROBE_ACTION_POST = 1;
  KPROBE_ACTION_FOLLOWFD = 2;
  KPROBE_ACTION_SIGKILL = 3;
  KPROBE_ACTION_UNFOLLOWFD = 4;
  KPROBE_ACTION_OVERRIDE = 5;
  KPROBE_ACTION_COPYFD = 6;
}

message ProcessKprobe {
  Process process = 1;
  string function_name = 3;
  repeated KprobeArgument args = 4;
  KprobeArgument return = 5;
  KprobeAction action = 6;
}

message RateLimitInfo { uint64 number_of_dropped_process_events = 1; }

message GetEventsResponse {
  oneof event {
    ProcessKprobe process_kprobe = 9;
    RateLimitInfo rate_limit_info = 40001;
  }
  string node_name = 1000;
  google.protobuf.Timestamp time = 1001;
}
`;

export const HUBBLE_PROTO = `
syntax = "proto3";
package flow;

enum FlowType { UNKNOWN_TYPE = 0; L3_L4 = 1; L7 = 2; SOCK = 3; }

enum Verdict {
  VERDICT_UNKNOWN = 0;
  FORWARDED = 1;
  DROPPED = 2;
  ERROR = 3;
  AUDIT = 4;
  REDIRECTED = 5;
  TRACED = 6;
  TRANSLATED = 7;
}

enum TrafficDirection { TRAFFIC_DIRECTION_UNKNOWN = 0; INGRESS = 1; EGRESS = 2; }

enum L7FlowType { UNKNOWN_L7_TYPE = 0; REQUEST = 1; RESPONSE = 2; SAMPLE = 3; }

enum IPVersion { IP_NOT_USED = 0; IPv4 = 1; IPv6 = 2; }

enum DropReason {
  DROP_REASON_UNKNOWN = 0;
  INVALID_SOURCE_MAC = 130;
  INVALID_DESTINATION_MAC = 131;
  INVALID_SOURCE_IP = 132;
  POLICY_DENIED = 133;
  INVALID_PACKET_DROPPED = 134;
  CT_TRUNCATED_OR_INVALID_HEADER = 135;
  CT_MISSING_TCP_ACK_FLAG = 136;
  CT_UNKNOWN_L4_PROTOCOL = 137;
  CT_CANNOT_CREATE_ENTRY_FROM_PACKET = 138;
  UNSUPPORTED_L3_PROTOCOL = 139;
  MISSED_TAIL_CALL = 140;
  ERROR_WRITING_TO_PACKET = 141;
  UNKNOWN_L4_PROTOCOL = 142;
  STALE_OR_UNROUTABLE_IP = 151;
  SERVICE_BACKEND_NOT_FOUND = 158;
  CT_MAP_INSERTION_FAILED = 155;
  LOCAL_HOST_IS_UNREACHABLE = 164;
  NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION = 165;
  FIB_LOOKUP_FAILED = 169;
  INVALID_IDENTITY = 171;
  IS_A_CLUSTERIP = 174;
  FORBIDDEN_ICMPV6_MESSAGE = 176;
  POLICY_DENY = 181;
  AUTH_REQUIRED = 189;
}

message Workload { string name = 1; string kind = 2; }

message Endpoint {
  uint32 ID = 1;
  uint32 identity = 2;
  string namespace = 3;
  repeated string labels = 4;
  string pod_name = 5;
  repeated Workload workloads = 6;
}

message IP { string source = 1; string destination = 2; IPVersion ipVersion = 3; }

message TCPFlags {
  bool FIN = 1; bool SYN = 2; bool RST = 3; bool PSH = 4; bool ACK = 5;
  bool URG = 6; bool ECE = 7; bool CWR = 8; bool NS = 9;
}

message TCP { uint32 source_port = 1; uint32 destination_port = 2; TCPFlags flags = 3; }
message UDP { uint32 source_port = 1; uint32 destination_port = 2; }
message SCTP { uint32 source_port = 1; uint32 destination_port = 2; }
message ICMPv4 { uint32 type = 1; uint32 code = 2; }
message ICMPv6 { uint32 type = 1; uint32 code = 2; }

message Layer4 {
  oneof protocol {
    TCP TCP = 1;
    UDP UDP = 2;
    ICMPv4 ICMPv4 = 3;
    ICMPv6 ICMPv6 = 4;
    SCTP SCTP = 5;
  }
}

message DNS {
  string query = 1;
  repeated string ips = 2;
  uint32 ttl = 3;
  repeated string cnames = 4;
  string observation_source = 5;
  uint32 rcode = 6;
  repeated string qtypes = 7;
  repeated string rrtypes = 8;
}

message HTTP { uint32 code = 1; string method = 2; string url = 3; string protocol = 4; }

message Layer7 {
  L7FlowType type = 1;
  uint64 latency_ns = 2;
  oneof record {
    DNS dns = 100;
    HTTP http = 101;
  }
}

message Service { string name = 1; string namespace = 2; }

message Policy {
  string name = 1;
  string namespace = 2;
  repeated string labels = 3;
  uint64 revision = 4;
  string kind = 5;
}

message Flow {
  google.protobuf.Timestamp time = 1;
  Verdict verdict = 2;
  IP IP = 5;
  Layer4 l4 = 6;
  Endpoint source = 8;
  Endpoint destination = 9;
  FlowType Type = 10;
  string node_name = 11;
  Layer7 l7 = 15;
  bool reply = 16;
  Service source_service = 20;
  Service destination_service = 21;
  TrafficDirection traffic_direction = 22;
  DropReason drop_reason_desc = 25;
  google.protobuf.BoolValue is_reply = 26;
  repeated Policy egress_denied_by = 21004;
  repeated Policy ingress_denied_by = 21005;
}

message FlowFilter {
  repeated Verdict verdict = 5;
  repeated string protocol = 12;
}

enum LostEventSource {
  UNKNOWN_LOST_EVENT_SOURCE = 0;
  PERF_EVENT_RING_BUFFER = 1;
  OBSERVER_EVENTS_QUEUE = 2;
  HUBBLE_RING_BUFFER = 3;
}

message LostEvent {
  LostEventSource source = 1;
  uint64 num_events_lost = 2;
}
`;

export const OBSERVER_PROTO = `
syntax = "proto3";
package observer;

message GetFlowsRequest {
  uint64 number = 1;
  bool follow = 3;
  repeated flow.FlowFilter blacklist = 5;
  repeated flow.FlowFilter whitelist = 6;
  google.protobuf.Timestamp since = 7;
}

message GetFlowsResponse {
  oneof response_types {
    flow.Flow flow = 1;
    flow.LostEvent lost_events = 3;
  }
  string node_name = 1000;
  google.protobuf.Timestamp time = 1001;
}
`;

export const GRPC_PATHS = {
  tetragonGetEvents: "/tetragon.FineGuidanceSensors/GetEvents",
  hubbleGetFlows: "/observer.Observer/GetFlows",
} as const;

export const ALL_PROTOS = [WELL_KNOWN, TETRAGON_PROTO, HUBBLE_PROTO, OBSERVER_PROTO];
