//! Webhook secrets from SSM Parameter Store and Secrets Manager on the moto server, as the
//! Lambda init reads them (`CODERIPPLE_WEBHOOK_SECRET_PARAM`).

use coderipple_core::aws::secrets::load;
use coderipple_core::contract::aws::{clients, unique};
use coderipple_core::signature::sign;

fn header(secret: &str, body: &[u8]) -> String {
    sign(secret.as_bytes(), body)
}

#[tokio::test]
async fn a_secure_string_parameter_holds_the_secret() {
    let c = clients().await;
    let name = format!("/coderipple/{}", unique("webhook"));
    c.ssm
        .put_parameter()
        .name(&name)
        .value("from-ssm")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let secrets = load(&c, &name).await.unwrap();
    assert!(
        secrets
            .verify(Some(&header("from-ssm", b"x")), b"x")
            .is_ok()
    );
    assert!(secrets.verify(Some(&header("other", b"x")), b"x").is_err());
}

#[tokio::test]
async fn a_secrets_manager_arn_holds_a_rotation_pair() {
    let c = clients().await;
    let created = c
        .secrets
        .create_secret()
        .name(unique("webhook"))
        .secret_string(r#"{"current": "new-secret", "previous": "old-secret"}"#)
        .send()
        .await
        .unwrap();
    let arn = created.arn.unwrap();
    assert!(arn.starts_with("arn:aws:secretsmanager:"));
    let secrets = load(&c, &arn).await.unwrap();
    for accepted in ["new-secret", "old-secret"] {
        assert!(secrets.verify(Some(&header(accepted, b"y")), b"y").is_ok());
    }
}

#[tokio::test]
async fn a_missing_parameter_is_a_clear_error() {
    let c = clients().await;
    let err = load(&c, "/coderipple/does-not-exist")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("CODERIPPLE_WEBHOOK_SECRET_PARAM"), "{err}");
    assert!(err.contains("/coderipple/does-not-exist"), "{err}");
}
