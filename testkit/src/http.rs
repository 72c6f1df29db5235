//! The HTTP/1.1 server under every stand-in: each accepted connection served on its own task, so
//! a request never waits for another connection to close. (tiny_http's thread pool can leave a
//! new connection queued behind keep-alive ones until they close: the bench's fake AWS saw calls
//! go unanswered for the whole 10 s enrichment deadline that way.)

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;

/// Serves what `listener` accepts with `handle` until the returned task is aborted (or its
/// runtime stops). Replies go out without Nagle's delay, as from AWS's own front ends.
pub fn serve<H, F>(listener: tokio::net::TcpListener, handle: H) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Full<Bytes>>, hyper::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handle);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// Many connections at once, each kept alive by the client: every request is answered while
    /// the others' connections stay open.
    #[tokio::test]
    async fn every_connection_is_served_while_others_stay_open() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = serve(listener, |req: Request<Incoming>| async move {
            let body = req.into_body().collect().await?.to_bytes();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(Response::new(Full::new(body)))
        });
        // One client per request: 32 connections open together, each kept open by its client.
        let clients: Vec<_> = (0..32).map(|_| reqwest::Client::builder().no_proxy().build().unwrap()).collect();
        let started = std::time::Instant::now();
        let requests: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, client)| {
                let url = url.clone();
                tokio::spawn(async move {
                    let r = client.post(&url).body(format!("{i}")).send().await.unwrap();
                    (r.text().await.unwrap(), client)
                })
            })
            .collect();
        let mut open = vec![];
        for (i, r) in requests.into_iter().enumerate() {
            let (body, client) = r.await.unwrap();
            assert_eq!(body, i.to_string());
            open.push(client);
        }
        // Served one after another, they would take 32 × 50 ms.
        assert!(started.elapsed() < std::time::Duration::from_millis(800), "{:?}", started.elapsed());
        drop(open);
        task.abort();
    }
}
