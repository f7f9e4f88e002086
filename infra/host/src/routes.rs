//! The HTTP routes `template.yaml` gives the functions, read from the template itself so the
//! local host serves exactly what API Gateway would.

use yaml_rust2::YamlLoader;

/// The project's SAM template, as built into the host.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The function, by its handler name (`Properties.Handler`), e.g. `status`.
    pub function: String,
    pub method: String,
    /// API Gateway's path pattern, e.g. `/agents/instances/{instance_id}`.
    pub path: String,
}

impl Route {
    /// Whether `method path` is this route (path parameters match one segment each).
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let pattern: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let given: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        pattern.len() == given.len()
            && pattern
                .iter()
                .zip(&given)
                .all(|(p, g)| (p.starts_with('{') && p.ends_with('}')) || p == g)
    }
}

/// Every `Api` event (a route of the REST API) of every `AWS::Serverless::Function` in
/// `template`; an error when the API's stage is not the one the host serves.
pub fn template_routes(template: &str) -> Result<Vec<Route>, String> {
    let documents =
        YamlLoader::load_from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let root = documents.first().ok_or("template.yaml is empty")?;
    let Some(resources) = root["Resources"].as_hash() else {
        return Err("template.yaml has no Resources".into());
    };
    let stage = root["Resources"]["BridgeRestApi"]["Properties"]["StageName"].as_str();
    if stage != Some(crate::host::STAGE) {
        return Err(format!(
            "template.yaml: BridgeRestApi's StageName is {stage:?}; the local host serves /{}",
            crate::host::STAGE
        ));
    }
    let mut routes = Vec::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or("?");
        let function = resource["Properties"]["Handler"]
            .as_str()
            .ok_or_else(|| format!("{name}: no Properties.Handler"))?;
        let Some(events) = resource["Properties"]["Events"].as_hash() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() != Some("Api") {
                continue;
            }
            let properties = &event["Properties"];
            let (Some(method), Some(path)) =
                (properties["Method"].as_str(), properties["Path"].as_str())
            else {
                return Err(format!("{name}: an Api event without Method and Path"));
            };
            routes.push(Route {
                function: function.to_owned(),
                method: method.to_uppercase(),
                path: path.to_owned(),
            });
        }
    }
    Ok(routes)
}
