//! The floor `bench/coldstart` measures every function against: `lambda_http`'s hello world,
//! answering every request as the bridge's HTTP functions answer one without credentials (401).

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn answer(_request: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(401)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"message":"unauthorized"}"#))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(answer)).await
}
