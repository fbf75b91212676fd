//! Tables are named `namespace.table` everywhere: in contracts, catalogs and commands.

/// `namespace.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

impl TableName {
    pub fn parse(s: &str) -> Option<Self> {
        let (namespace, name) = s.trim().rsplit_once('.')?;
        // Glue allows 255; 128 leaves room for the warehouse path around it.
        let ok = |p: &str| {
            (1..=128).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        (ok(namespace) && ok(name)).then(|| TableName {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    pub fn ident(&self) -> iceberg::TableIdent {
        iceberg::TableIdent::new(
            iceberg::NamespaceIdent::new(self.namespace.clone()),
            self.name.clone(),
        )
    }
}
