// Short names for the contract's resources and requests, so frontends need not spell
// components['schemas'][...]. Each is the generated schema type itself, under the document's name.
import type { components } from './schema.js';

type Schemas = components['schemas'];

export type Garage = Schemas['Garage'];
export type Spot = Schemas['Spot'];
export type Vehicle = Schemas['Vehicle'];
export type Session = Schemas['Session'];
export type Ticket = Schemas['Ticket'];
export type TicketWithSession = Schemas['TicketWithSession'];
export type Payment = Schemas['Payment'];
export type Rate = Schemas['Rate'];
export type Quote = Schemas['Quote'];
export type FeeBreakdown = Schemas['FeeBreakdown'];
export type Occupancy = Schemas['Occupancy'];
export type UsageReport = Schemas['UsageReport'];
export type ApiKey = Schemas['ApiKey'];
export type CreatedApiKey = Schemas['CreatedApiKey'];
export type Event = Schemas['Event'];
export type EventList = Schemas['EventList'];

export type CheckInRequest = Schemas['CheckInRequest'];
export type CheckInResult = Schemas['CheckInResult'];
export type CheckOutRequest = Schemas['CheckOutRequest'];
export type CheckOutResult = Schemas['CheckOutResult'];

export type SpotType = Schemas['SpotType'];
export type SpotStatus = Schemas['SpotStatus'];
export type VehicleType = Schemas['VehicleType'];
export type SessionStatus = Schemas['SessionStatus'];
export type TicketStatus = Schemas['TicketStatus'];
export type PaymentMethod = Schemas['PaymentMethod'];
export type PaymentStatus = Schemas['PaymentStatus'];
export type Role = Schemas['Role'];
export type EventType = Schemas['EventType'];
