use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::Request;

use super::*;

const OPERATOR: &str = "op3rator-token";
const WORKER: &str = "w0rker-token";

fn call_with(header: Option<&str>) -> Request<()> {
    let mut r = Request::new(());
    if let Some(h) = header {
        r.metadata_mut().insert("authorization", h.parse().unwrap());
    }
    r
}

fn tokens() -> Option<Arc<RoleTokens>> {
    Some(Arc::new(RoleTokens {
        operator: TokenSet::parse(OPERATOR, "test").unwrap(),
        worker: TokenSet::parse(WORKER, "test").unwrap(),
    }))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn the_operator_token_passes_everywhere() {
    for needs in [Role::Operator, Role::Worker] {
        let mut check = RequireRole::new(tokens(), needs);
        assert!(check.call(call_with(Some(&bearer(OPERATOR)))).is_ok());
    }
}

#[test]
fn the_worker_token_passes_worker_calls_only_and_the_refusal_names_the_role() {
    let mut tasks = RequireRole::new(tokens(), Role::Worker);
    assert!(tasks.call(call_with(Some(&bearer(WORKER)))).is_ok());
    let mut runs = RequireRole::new(tokens(), Role::Operator);
    let refused = runs.call(call_with(Some(&bearer(WORKER)))).unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused
            .message()
            .contains("operator token (FLOE_AUTH_TOKEN"),
        "{refused:?}"
    );
    assert!(!refused.message().contains(WORKER));
}

#[test]
fn missing_and_wrong_tokens_are_refused_without_echoing_them() {
    for needs in [Role::Operator, Role::Worker] {
        let mut check = RequireRole::new(tokens(), needs);
        for bad in [
            None,
            Some("Bearer planted-guess"),
            Some(OPERATOR),
            Some("Bearer op3rator-toke"),
        ] {
            let refused = check.call(call_with(bad)).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated);
            let text = refused.message();
            assert!(
                !text.contains("planted-guess") && !text.contains("op3rator"),
                "{text}"
            );
            let names = if needs == Role::Operator {
                "FLOE_AUTH_TOKEN"
            } else {
                "FLOE_WORKER_TOKEN"
            };
            assert!(text.contains(names), "{text}");
        }
    }
    let mut open = RequireRole::new(None, Role::Operator);
    assert!(open.call(call_with(None)).is_ok());
}

#[test]
fn several_tokens_are_accepted_while_rotating_and_the_first_is_sent() {
    let rotating = Some(Arc::new(RoleTokens {
        operator: TokenSet::parse("new-op,old-op", "test").unwrap(),
        worker: TokenSet::parse("new-w\nold-w\n", "test").unwrap(),
    }));
    for (token, needs) in [
        ("new-op", Role::Operator),
        ("old-op", Role::Operator),
        ("new-w", Role::Worker),
        ("old-w", Role::Worker),
    ] {
        let mut check = RequireRole::new(rotating.clone(), needs);
        assert!(
            check.call(call_with(Some(&bearer(token)))).is_ok(),
            "{token}"
        );
    }
    let client = ClientArgs {
        token: TokenArgs {
            auth_token: Some("new-op,old-op".into()),
            auth_token_file: None,
        },
        ..Default::default()
    };
    let sent = client.authorize().unwrap().call(Request::new(())).unwrap();
    assert_eq!(
        sent.metadata().get("authorization").unwrap(),
        "Bearer new-op"
    );
}

#[test]
fn secrets_never_print() {
    let token = Token::new("planted-value", "test").unwrap();
    assert!(!format!("{token:?}").contains("planted-value"));
    let args = ServerArgs {
        token: TokenArgs {
            auth_token: Some("planted-value".into()),
            auth_token_file: None,
        },
        worker_token: WorkerTokenArgs {
            worker_token: Some("planted-worker".into()),
            worker_token_file: None,
        },
        ..Default::default()
    };
    let shown = format!("{args:?}");
    assert!(
        !shown.contains("planted-value") && !shown.contains("planted-worker"),
        "{shown}"
    );
    let signing = SigningArgs {
        task_signing_key: Some("planted-key-0123456789abcdef0123456789".into()),
        task_signing_key_file: None,
    };
    assert!(!format!("{signing:?}").contains("planted-key"));
    let blank = TokenArgs {
        auth_token: Some(" ".into()),
        auth_token_file: None,
    };
    let err = blank.tokens().unwrap_err().to_string();
    assert!(err.contains("FLOE_AUTH_TOKEN"), "{err}");
}

fn server(operator: Option<&str>, worker: Option<&str>) -> ServerArgs {
    ServerArgs {
        token: TokenArgs {
            auth_token: operator.map(Into::into),
            auth_token_file: None,
        },
        worker_token: WorkerTokenArgs {
            worker_token: worker.map(Into::into),
            worker_token_file: None,
        },
        ..Default::default()
    }
}

#[test]
fn serving_needs_both_roles_tokens_unless_told_otherwise() {
    let listen = "0.0.0.0:1".parse().unwrap();
    for (args, missing) in [
        (server(None, None), "FLOE_AUTH_TOKEN"),
        (server(None, Some(WORKER)), "FLOE_AUTH_TOKEN"),
        (server(Some(OPERATOR), None), "FLOE_WORKER_TOKEN"),
    ] {
        let err = args.load(listen).unwrap_err();
        assert!(matches!(err, SecurityError::Unauthenticated { .. }));
        assert!(
            err.to_string().contains(&format!("has no {missing}")),
            "{err}"
        );
    }
    let open = ServerArgs {
        allow_unauthenticated: true,
        ..Default::default()
    };
    assert!(open.load(listen).unwrap().tokens.is_none());
    assert!(server(Some(OPERATOR), Some(WORKER))
        .load(listen)
        .unwrap()
        .tokens
        .is_some());
    let same = server(Some("a,shared"), Some("shared"))
        .load(listen)
        .unwrap_err();
    assert!(matches!(same, SecurityError::SameToken), "{same}");
}

#[test]
fn a_certificate_without_its_key_is_refused() {
    let mut args = server(Some(OPERATOR), Some(WORKER));
    args.tls_cert_pem = Some("-----BEGIN CERTIFICATE-----".into());
    let err = args.load("127.0.0.1:1".parse().unwrap()).unwrap_err();
    assert!(matches!(err, SecurityError::HalfTls), "{err}");
}

#[test]
fn a_short_signing_key_is_refused_naming_its_source() {
    let args = SigningArgs {
        task_signing_key: Some("short".into()),
        task_signing_key_file: None,
    };
    let err = args.keys().unwrap_err().to_string();
    assert!(
        err.contains("FLOE_TASK_SIGNING_KEY") && err.contains("openssl rand"),
        "{err}"
    );
    assert!(!err.contains("short\""), "{err}");
    assert!(SigningArgs::default().keys().unwrap().is_none());
}
