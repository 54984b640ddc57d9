//! The key performance indicators recorded every step of every run.

/// One per-step indicator; its position in [`Kpi::ALL`] is its column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kpi {
    ActiveSuppliers,
    Joins,
    Exits,
    Coverage,
    ServiceQuality,
    PotentialDemand,
    ServedDemand,
    DemandUsd,
    PriceUsd,
    SupplyTokens,
    MintedTokens,
    BurnedTokens,
    InflationAnnual,
    BurnMintRatio,
    DemandPool,
    BootstrapPool,
    Treasury,
    ValidatorsPaid,
    BootstrapShare,
    RevenuePerSupplierUsd,
    LosingMoneyShare,
    SupplierRoi,
    InProfitShare,
    MarketCapUsd,
    RevenueTotalUsd,
    CostTotalUsd,
}

/// How an indicator's values are written for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// People, units of demand: plain numbers with k/M/B.
    Count,
    /// Shares and rates: 0.25 is written 25%.
    Percent,
    /// US dollars: $1.2M.
    Usd,
    /// Tokens: 1.2M DPN-style amounts with k/M/B.
    Tokens,
    /// A plain ratio (burn/mint, mean quality): 0.42.
    Ratio,
}

/// Number of indicators.
pub const KPI_COUNT: usize = 26;

/// One step's indicators, indexed by `Kpi as usize`.
pub type Row = [f64; KPI_COUNT];

impl Kpi {
    pub const ALL: [Kpi; KPI_COUNT] = [
        Kpi::ActiveSuppliers,
        Kpi::Joins,
        Kpi::Exits,
        Kpi::Coverage,
        Kpi::ServiceQuality,
        Kpi::PotentialDemand,
        Kpi::ServedDemand,
        Kpi::DemandUsd,
        Kpi::PriceUsd,
        Kpi::SupplyTokens,
        Kpi::MintedTokens,
        Kpi::BurnedTokens,
        Kpi::InflationAnnual,
        Kpi::BurnMintRatio,
        Kpi::DemandPool,
        Kpi::BootstrapPool,
        Kpi::Treasury,
        Kpi::ValidatorsPaid,
        Kpi::BootstrapShare,
        Kpi::RevenuePerSupplierUsd,
        Kpi::LosingMoneyShare,
        Kpi::SupplierRoi,
        Kpi::InProfitShare,
        Kpi::MarketCapUsd,
        Kpi::RevenueTotalUsd,
        Kpi::CostTotalUsd,
    ];

    /// Column name in CSV and key in JSON.
    pub fn name(self) -> &'static str {
        self.describe().0
    }

    /// What it measures, with its unit.
    pub fn title(self) -> &'static str {
        self.describe().1
    }

    /// How its values read: shares as percentages, money with its currency.
    pub fn unit(self) -> Unit {
        match self {
            Kpi::Coverage
            | Kpi::InflationAnnual
            | Kpi::BootstrapShare
            | Kpi::LosingMoneyShare
            | Kpi::SupplierRoi
            | Kpi::InProfitShare => Unit::Percent,
            Kpi::DemandUsd
            | Kpi::PriceUsd
            | Kpi::RevenuePerSupplierUsd
            | Kpi::MarketCapUsd
            | Kpi::RevenueTotalUsd
            | Kpi::CostTotalUsd => Unit::Usd,
            Kpi::SupplyTokens
            | Kpi::MintedTokens
            | Kpi::BurnedTokens
            | Kpi::DemandPool
            | Kpi::BootstrapPool
            | Kpi::Treasury
            | Kpi::ValidatorsPaid => Unit::Tokens,
            Kpi::ServiceQuality | Kpi::BurnMintRatio => Unit::Ratio,
            Kpi::ActiveSuppliers
            | Kpi::Joins
            | Kpi::Exits
            | Kpi::PotentialDemand
            | Kpi::ServedDemand => Unit::Count,
        }
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Kpi::ActiveSuppliers => ("active_suppliers", "Active suppliers"),
            Kpi::Joins => ("joins", "Suppliers joining (per step)"),
            Kpi::Exits => ("exits", "Suppliers leaving (per step)"),
            Kpi::Coverage => ("coverage", "Coverage (share of target area)"),
            Kpi::ServiceQuality => ("service_quality", "Mean quality of active suppliers"),
            Kpi::PotentialDemand => ("potential_demand_units", "Potential demand (units/step)"),
            Kpi::ServedDemand => ("served_demand_units", "Served demand (units/step)"),
            Kpi::DemandUsd => ("demand_usd", "Users' spend (USD/step)"),
            Kpi::PriceUsd => ("price_usd", "Token price (USD)"),
            Kpi::SupplyTokens => ("supply_tokens", "Total supply (tokens)"),
            Kpi::MintedTokens => ("minted_tokens", "Minted (tokens/step)"),
            Kpi::BurnedTokens => ("burned_tokens", "Burned (tokens/step)"),
            Kpi::InflationAnnual => ("inflation_annual", "Net inflation (annualised)"),
            Kpi::BurnMintRatio => ("burn_mint_ratio", "Burn/mint ratio"),
            Kpi::DemandPool => ("demand_pool_tokens", "Demand pool (tokens/step)"),
            Kpi::BootstrapPool => ("bootstrap_pool_tokens", "Bootstrap pool (tokens/step)"),
            Kpi::Treasury => ("treasury_tokens", "Treasury incl. dust (tokens/step)"),
            Kpi::ValidatorsPaid => ("validators_tokens", "Paid to validators (tokens/step)"),
            Kpi::BootstrapShare => ("bootstrap_target_share", "Bootstrap target share"),
            Kpi::RevenuePerSupplierUsd => (
                "revenue_per_supplier_usd",
                "Revenue per active supplier (USD/step)",
            ),
            Kpi::LosingMoneyShare => (
                "losing_money_share",
                "Active suppliers losing money this step (share)",
            ),
            Kpi::SupplierRoi => (
                "supplier_roi",
                "Suppliers' cumulative ROI (revenue/cost - 1)",
            ),
            Kpi::InProfitShare => (
                "in_profit_share",
                "Suppliers (ever joined) whose revenue covers their cost (share)",
            ),
            Kpi::MarketCapUsd => ("market_cap_usd", "Market cap (supply x price, USD)"),
            Kpi::RevenueTotalUsd => (
                "revenue_total_usd",
                "Suppliers' revenue so far (all suppliers, USD)",
            ),
            Kpi::CostTotalUsd => (
                "cost_total_usd",
                "Suppliers' cost so far (hardware and operating, USD)",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_in_declaration_order_and_unique() {
        for (i, k) in Kpi::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        let mut names: Vec<&str> = Kpi::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KPI_COUNT);
    }
}
