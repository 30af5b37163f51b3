#include "tunnel/frame.h"

namespace strait::tunnel {

std::string_view FrameTypeName(FrameType t) {
  switch (t) {
    case FrameType::kHello: return "hello";
    case FrameType::kHelloAck: return "hello_ack";
    case FrameType::kPing: return "ping";
    case FrameType::kPong: return "pong";
    case FrameType::kError: return "error";
    case FrameType::kGoAway: return "goaway";
    case FrameType::kSessionRequest: return "session_request";
    case FrameType::kSessionOffer: return "session_offer";
    case FrameType::kSessionInit: return "session_init";
    case FrameType::kSessionAccept: return "session_accept";
    case FrameType::kSessionClose: return "session_close";
    case FrameType::kSessionCredit: return "session_credit";
    case FrameType::kSealedStream: return "sealed_stream";
    case FrameType::kSealedDatagram: return "sealed_datagram";
  }
  return "unknown";
}

std::string_view ErrorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kProtocolError: return "protocol_error";
    case ErrorCode::kUnsupportedVersion: return "unsupported_version";
    case ErrorCode::kUnsupportedFrame: return "unsupported_frame";
    case ErrorCode::kFrameTooLarge: return "frame_too_large";
    case ErrorCode::kBadCredential: return "bad_credential";
    case ErrorCode::kBadProof: return "bad_proof";
    case ErrorCode::kWrongRole: return "wrong_role";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kHandshakeTimeout: return "handshake_timeout";
    case ErrorCode::kIdleTimeout: return "idle_timeout";
    case ErrorCode::kNoConnector: return "no_connector";
    case ErrorCode::kConnectorGone: return "connector_gone";
    case ErrorCode::kDeviceGone: return "device_gone";
    case ErrorCode::kTooManySessions: return "too_many_sessions";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kShuttingDown: return "shutting_down";
    case ErrorCode::kRevoked: return "revoked";
    case ErrorCode::kFlowControl: return "flow_control";
    case ErrorCode::kRekeyRequired: return "rekey_required";
    case ErrorCode::kRefusedByPolicy: return "refused_by_policy";
    case ErrorCode::kConnectFailed: return "connect_failed";
    case ErrorCode::kDnsFailed: return "dns_failed";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kTooManyStreams: return "too_many_streams";
    case ErrorCode::kReplayed: return "replayed";
  }
  return "unknown";
}

}  // namespace strait::tunnel
