/** Prices of LLM calls: the price table (data/prices.json, `--prices FILE`) and what a call cost. */
export { Prices, readPriceFile, type ModelPrice, type PriceFile, type ProviderPrices, type ResolvedPrice } from './prices';
export { costOf, priceCall, pricedTokens, type CallCost, type PricedCall, type PricedTokens, type Unpriced } from './cost';
export { formatUsd, roundUsd } from './format';
