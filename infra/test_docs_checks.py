#!/usr/bin/env python3
"""Shows each check of infra/check_docs.py failing on a tree that breaks it (and passing on one
that does not): a broken link, a missing heading, an undocumented variable, a documented one
nothing reads, a variable read in a way the checker does not know, a stale diagram."""

import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_docs  # noqa: E402

CONFIG_PAGE = """# Configuration reference

## Variables

| variable | read by | default | secret | what it is |
|---|---|---|---|---|
| `TABLE_NAME` | all | required | no | the table |
| `KUSTOMER_API_KEY`, `KUSTOMER_API_KEY_PARAM` | status | required | yes | the key |
{extra}
## Read by the AWS SDK, the local host or no one

| variable | by | what it is |
|---|---|---|
| `BRIDGE_TOKEN` | no one | retired |
"""

CONFIG_RS = """
pub mod secrets {
    pub const STATUS: &[&str] = &["KUSTOMER_API_KEY"];
}
fn load(env: &Env) {
    let table = env.get("TABLE_NAME");
    {extra}
}

#[cfg(test)]
mod tests {
    fn fixture() { std::env::var("ONLY_IN_TESTS"); }
}
"""


class Tree:
    """A small repository: README, docs/, one production source."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp())
        (self.root / "docs").mkdir()
        (self.root / "shared" / "src").mkdir(parents=True)
        self.write("README.md", "# Bridge\n\nSee [configuration](docs/configuration.md#variables).\n")
        self.write("docs/configuration.md", CONFIG_PAGE.format(extra=""))
        self.write("shared/src/config.rs", CONFIG_RS.replace("{extra}", ""))

    def write(self, path, text):
        (self.root / path).write_text(text, encoding="utf-8")

    def problems(self):
        return check_docs.link_problems(self.root) + check_docs.configuration_problems(self.root)

    def close(self):
        shutil.rmtree(self.root)


class DocsChecks(unittest.TestCase):
    def setUp(self):
        self.tree = Tree()

    def tearDown(self):
        self.tree.close()

    def test_a_consistent_tree_passes(self):
        self.assertEqual(self.tree.problems(), [])

    def test_a_broken_link_is_found(self):
        self.tree.write("README.md", "# Bridge\n\nSee [deploy](docs/deploy.md).\n")
        self.assertEqual(
            self.tree.problems(), ["README.md:3: link to docs/deploy.md: no such file"]
        )

    def test_a_link_to_a_missing_heading_is_found(self):
        self.tree.write("README.md", "# Bridge\n\n[x](docs/configuration.md#secrets)\n")
        self.assertIn("no heading #secrets", " ".join(self.tree.problems()))

    def test_links_in_code_are_not_links(self):
        self.tree.write(
            "README.md",
            "# Bridge\n\n`[a](nowhere.md)`\n\n```\n[b](nowhere.md)\n```\n[site](https://example.com)\n",
        )
        self.assertEqual(self.tree.problems(), [])

    def test_a_variable_the_page_does_not_list_is_found(self):
        self.tree.write(
            "shared/src/config.rs",
            CONFIG_RS.replace("{extra}", 'let poll = std::env::var("POLL_SECONDS");'),
        )
        self.assertEqual(
            self.tree.problems(),
            ["POLL_SECONDS is read (shared/src/config.rs:7) but docs/configuration.md does not list it"],
        )

    def test_a_listed_variable_nothing_reads_is_found(self):
        self.tree.write(
            "docs/configuration.md",
            CONFIG_PAGE.format(extra="| `OLD_SETTING` | intake | 1 | no | gone |\n"),
        )
        self.assertEqual(
            self.tree.problems(), ["docs/configuration.md lists OLD_SETTING, which no function reads"]
        )

    def test_a_secret_s_param_form_must_be_listed(self):
        page = CONFIG_PAGE.format(extra="").replace(", `KUSTOMER_API_KEY_PARAM`", "")
        self.tree.write("docs/configuration.md", page)
        self.assertIn("KUSTOMER_API_KEY_PARAM is read", " ".join(self.tree.problems()))

    def test_a_variable_read_in_an_unknown_way_is_not_missed(self):
        self.tree.write(
            "shared/src/config.rs",
            CONFIG_RS.replace("{extra}", 'let x = lookup("NEW_KNOB");'),
        )
        self.assertIn("NEW_KNOB (shared/src/config.rs)", " ".join(self.tree.problems()))

    def test_the_real_diagram_matches_its_source_and_a_stale_one_does_not(self):
        real = Path(__file__).resolve().parent.parent
        self.assertEqual(check_docs.diagram_problems(real), [])
        (self.tree.root / "docs" / "diagram").mkdir()
        shutil.copy(real / "docs" / "diagram" / "data_flow.py", self.tree.root / "docs" / "diagram")
        self.tree.write("docs/data-flow.svg", "<svg/>\n")
        self.assertEqual(len(check_docs.diagram_problems(self.tree.root)), 1)


if __name__ == "__main__":
    unittest.main()
