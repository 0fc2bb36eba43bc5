//! RESTful routes for one resource, as Egg's `router.resources`.
//!
//! | method | path            | action    |
//! |--------|-----------------|-----------|
//! | GET    | /posts          | `index`   |
//! | GET    | /posts/new      | `new`     |
//! | POST   | /posts          | `create`  |
//! | GET    | /posts/{id}      | `show`    |
//! | GET    | /posts/{id}/edit | `edit`    |
//! | PUT, PATCH | /posts/{id}  | `update`  |
//! | DELETE | /posts/{id}      | `destroy` |
//!
//! ```
//! use axum::{extract::Path, Router};
//! use yolk_core::resources::Resources;
//!
//! async fn index() -> &'static str { "all posts" }
//! async fn show(Path(id): Path<u32>) -> String { format!("post {id}") }
//!
//! let router: Router = Resources::at("/posts").index(index).show(show).into();
//! ```

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

/// The routes of one resource under a path; actions left out answer 405.
#[derive(Debug)]
#[must_use]
pub struct Resources<S = ()> {
    path: String,
    collection: MethodRouter<S>,
    member: MethodRouter<S>,
    new: Option<MethodRouter<S>>,
    edit: Option<MethodRouter<S>>,
}

impl<S: Clone + Send + Sync + 'static> Resources<S> {
    /// The resource at `path`, e.g. `/posts`; members are at `{path}/{id}`.
    pub fn at(path: impl Into<String>) -> Self {
        Self {
            path: path.into().trim_end_matches('/').to_owned(),
            collection: MethodRouter::new(),
            member: MethodRouter::new(),
            new: None,
            edit: None,
        }
    }

    /// `GET /posts`
    pub fn index<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.collection = self.collection.merge(get(handler));
        self
    }

    /// `GET /posts/new`: the form for a new one.
    #[allow(clippy::new_ret_no_self, clippy::wrong_self_convention)]
    pub fn new<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.new = Some(get(handler));
        self
    }

    /// `POST /posts`
    pub fn create<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.collection = self.collection.merge(post(handler));
        self
    }

    /// `GET /posts/{id}`
    pub fn show<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.member = self.member.merge(get(handler));
        self
    }

    /// `GET /posts/{id}/edit`: the form to edit one.
    pub fn edit<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.edit = Some(get(handler));
        self
    }

    /// `PUT /posts/{id}` and `PATCH /posts/{id}`
    pub fn update<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.member = self
            .member
            .merge(put(handler.clone()))
            .merge(patch(handler));
        self
    }

    /// `DELETE /posts/{id}`
    pub fn destroy<H: Handler<T, S>, T: 'static>(mut self, handler: H) -> Self {
        self.member = self.member.merge(delete(handler));
        self
    }

    /// The routes.
    pub fn into_router(self) -> Router<S> {
        let path = if self.path.is_empty() {
            "/"
        } else {
            self.path.as_str()
        };
        let base = self.path.as_str();
        let mut router = Router::new()
            .route(path, self.collection)
            .route(&format!("{base}/{{id}}"), self.member);
        if let Some(new) = self.new {
            router = router.route(&format!("{base}/new"), new);
        }
        if let Some(edit) = self.edit {
            router = router.route(&format!("{base}/{{id}}/edit"), edit);
        }
        router
    }
}

impl<S: Clone + Send + Sync + 'static> From<Resources<S>> for Router<S> {
    fn from(resources: Resources<S>) -> Self {
        resources.into_router()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Path;
    use http::{Method, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(router: &Router, method: Method, path: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn seven_actions_on_their_routes() {
        let router: Router = Resources::at("/posts")
            .index(|| async { "index" })
            .new(|| async { "new" })
            .create(|| async { "create" })
            .show(|Path(id): Path<String>| async move { format!("show {id}") })
            .edit(|Path(id): Path<String>| async move { format!("edit {id}") })
            .update(|Path(id): Path<String>| async move { format!("update {id}") })
            .destroy(|Path(id): Path<String>| async move { format!("destroy {id}") })
            .into();
        let cases = [
            (Method::GET, "/posts", "index"),
            (Method::GET, "/posts/new", "new"),
            (Method::POST, "/posts", "create"),
            (Method::GET, "/posts/7", "show 7"),
            (Method::GET, "/posts/7/edit", "edit 7"),
            (Method::PUT, "/posts/7", "update 7"),
            (Method::PATCH, "/posts/7", "update 7"),
            (Method::DELETE, "/posts/7", "destroy 7"),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                call(&router, method, path).await,
                (StatusCode::OK, expected.to_owned())
            );
        }
    }

    #[tokio::test]
    async fn missing_actions_answer_405() {
        let router: Router = Resources::at("/posts").index(|| async { "index" }).into();
        assert_eq!(
            call(&router, Method::POST, "/posts").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            call(&router, Method::DELETE, "/posts/1").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
