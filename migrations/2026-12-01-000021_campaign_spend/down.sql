DROP TABLE campaign_spend;
