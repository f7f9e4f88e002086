//! Each function's state-table permissions, read from `template.yaml`: the local host gives
//! every function a store that refuses the DynamoDB actions its role does not grant, as AWS
//! would, so a missing permission fails the demo and the tests here, not a tenant's deploy.

use bridge_shared::store::StateStore;
use bridge_tests::policy_store::{Grant, PolicyStore, Refusals};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use yaml_rust2::{Yaml, YamlLoader};

/// What the role of the function `function` grants on the state table: each inline policy
/// statement's `dynamodb:*` actions, with its `dynamodb:LeadingKeys` patterns when it is
/// conditioned on them (review S10).
pub fn dynamodb_grants(template: &str, function: &str) -> Result<Vec<Grant>, String> {
    let documents =
        YamlLoader::load_from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let root = documents.first().ok_or("template.yaml is empty")?;
    let resources = root["Resources"]
        .as_hash()
        .ok_or("template.yaml has no Resources")?;
    let resource = resources
        .values()
        .find(|r| r["Properties"]["Handler"].as_str() == Some(function))
        .ok_or_else(|| format!("no function {function} in template.yaml"))?;
    let strings = |yaml: &Yaml| -> Vec<String> {
        match yaml {
            Yaml::Array(list) => list
                .iter()
                .filter_map(Yaml::as_str)
                .map(str::to_owned)
                .collect(),
            Yaml::String(one) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let mut grants = Vec::new();
    for policy in resource["Properties"]["Policies"]
        .as_vec()
        .into_iter()
        .flatten()
    {
        for statement in policy["Statement"].as_vec().into_iter().flatten() {
            let actions: BTreeSet<String> = strings(&statement["Action"])
                .into_iter()
                .filter(|a| a.starts_with("dynamodb:"))
                .collect();
            if actions.is_empty() {
                continue;
            }
            let condition =
                &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let leading_keys = (!condition.is_badvalue()).then(|| strings(condition));
            grants.push(Grant {
                actions,
                leading_keys,
            });
        }
    }
    Ok(grants)
}

/// Store calls refused in this process so far: (function, action, operation).
pub fn refusals() -> Refusals {
    static REFUSALS: OnceLock<Refusals> = OnceLock::new();
    REFUSALS.get_or_init(Refusals::default).clone()
}

/// `store` as the function `function` may use it.
pub fn scoped(store: &Arc<dyn StateStore>, function: &str) -> Arc<dyn StateStore> {
    let allowed = dynamodb_grants(crate::routes::TEMPLATE, function).unwrap_or_default();
    Arc::new(PolicyStore::new(
        store.clone(),
        function,
        allowed,
        refusals(),
    ))
}
